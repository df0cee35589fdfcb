from typing import Any

from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_delete


class ImportsConfig(AppConfig):
    name = "dashboard.imports"
    label = "imports"
    verbose_name = "CSV imports"

    def ready(self) -> None:
        from dashboard.imports.models import Import

        # A signal, not a service: an import is also deleted by the cascade of its
        # connection's deletion (another area's service), which no import service sees.
        post_delete.connect(_files_removed, sender=Import, dispatch_uid="imports.files_removed")


def _files_removed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Remove a deleted import's files from storage once the deletion is committed (a
    rolled-back deletion keeps them)."""
    from dashboard.imports.services import import_files_delete

    names = [str(field.name) for field in (instance.file, instance.source_file) if field]
    if names:
        transaction.on_commit(lambda: import_files_delete(names=names))
