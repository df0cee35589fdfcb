"""Celery tasks of imports: thin, take ids, call the services.

A preview whose worker died is queued again by ``imports.watchdog``, which beat runs every
minute and every worker runs when it starts (``worker_ready``), so a restarted worker picks
up the preview it was building without waiting for the scheduler.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import worker_ready
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)


# DjangoTask is Celery's default task class under Django, named so the type checker knows
# ``delay_on_commit``.
@shared_task(name="imports.build_preview", ignore_result=True, acks_late=True, base=DjangoTask)
def build_import_preview(import_id: int, generation: int) -> None:
    from dashboard.imports.services import import_build_preview

    import_build_preview(import_id=import_id, generation=generation)


@shared_task(name="imports.watchdog", ignore_result=True)
def imports_watchdog() -> list[int]:
    """Queue again the previews whose worker stopped, fail those given up on."""
    from dashboard.imports.services import import_previews_recover

    return import_previews_recover()


@worker_ready.connect
def _recover_previews_on_start(sender: Any = None, **kwargs: Any) -> None:
    """Run the watchdog in a worker that just started (it may replace one that died
    mid-preview), and once more when a build silent since then would count as stopped: a
    worker restarted at once finds its predecessor's heartbeat still fresh, and the
    scheduler may not be running. Never stops the worker from starting: a failure is logged.
    """
    try:
        imports_watchdog()
        imports_watchdog.apply_async(countdown=settings.IMPORT_PREVIEW_STALE_AFTER + 5)
    except Exception:
        logger.exception("The imports watchdog could not run at the worker's start")
    finally:
        # The worker's main process keeps no connection of its own between tasks.
        connections.close_all()
