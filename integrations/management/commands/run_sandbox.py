"""``manage.py run_sandbox``: serve the provider sandbox until interrupted.

A thin wrapper: the options and the serving loop live in :mod:`integrations.sandbox.cli`,
which ``python -m integrations.sandbox`` shares, so the sandbox itself never needs Django.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.sandbox.cli import add_arguments, run
from integrations.sandbox.config import ConfigError


class Command(BaseCommand):
    help = (
        "Serve the RedFlag, Snappy and Parcelvoy sandbox over HTTP, with optional faults. "
        "Prints the base URLs and credentials; --write-credentials saves them as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run(options, self.stdout, style=self.style.SUCCESS)
        except (ConfigError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
