"""Celery task for previews of large imports: thin, takes ids, calls the service."""

from __future__ import annotations

from celery import shared_task
from celery.contrib.django.task import DjangoTask


# DjangoTask is Celery's default task class under Django, named so the type checker knows
# ``delay_on_commit``.
@shared_task(name="imports.build_preview", ignore_result=True, acks_late=True, base=DjangoTask)
def build_import_preview(import_id: int, generation: int) -> None:
    from dashboard.imports.services import import_build_preview

    import_build_preview(import_id=import_id, generation=generation)
