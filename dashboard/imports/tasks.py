"""Celery task for previews of large imports: thin, takes ids, calls the service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="imports.build_preview", ignore_result=True, acks_late=True)
def build_import_preview(import_id: int, generation: int) -> None:
    from dashboard.imports.services import import_build_preview

    import_build_preview(import_id=import_id, generation=generation)
