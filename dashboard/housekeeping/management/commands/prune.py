"""``python manage.py prune [--dry-run]``: housekeeping now, saying what it removed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.housekeeping.services import prune


class Command(BaseCommand):
    help = (
        "Remove sync items and import rows older than RETENTION_DAYS, audit events older "
        "than AUDIT_RETENTION_DAYS and expired sessions, in short batches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be removed; remove nothing."
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        report = prune(dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
        if dry_run:
            self.stdout.write("Dry run: nothing was removed.")
