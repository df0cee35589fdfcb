"""Celery tasks of imports: thin, take ids, call the services.

A large file's preview is one ``imports.build_preview`` task, the writer, and one
``imports.build_preview_chunk`` task per further range of its rows, all on the previews
queue: any worker process on any host may preview a chunk.

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

    import_build_preview(import_id=import_id, generation=generation, chunked=True)


@shared_task(
    bind=True,
    name="imports.build_preview_chunk",
    ignore_result=True,
    acks_late=True,
    base=DjangoTask,
)
def build_import_preview_chunk(
    self: DjangoTask,
    import_id: int,
    generation: int,
    claim: str,
    index: int,
    start: int,
    end: int | None,
) -> None:
    """Preview one row range of a large file for the build that claimed its preview."""
    from dashboard.imports.services import import_build_preview_chunk

    delivery = getattr(self.request, "delivery_info", None) or {}
    import_build_preview_chunk(
        import_id=import_id, generation=generation, claim=claim, index=index, start=start,
        end=end, redelivered=bool(delivery.get("redelivered")),
    )  # fmt: skip


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
