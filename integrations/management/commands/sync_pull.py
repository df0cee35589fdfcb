"""``manage.py sync_pull --connection NAME``: refresh a connection's mirror, then follow it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from integrations.management.sync_command import (
    EXIT_STATUS_HELP,
    SyncJobCommand,
    command_label,
    connection_by_name,
)
from integrations.models import ACTIVE_STATUSES, JobKind, JobSource, SyncJob
from integrations.sync.services import job_create_pull


class Command(SyncJobCommand):
    help = (
        "Queue a refresh of a connection's recipient mirror (a pull job), then follow it. "
        "If one is already queued or running, follow that one instead." + EXIT_STATUS_HELP
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--connection", required=True, help="The connection's name (any letter case)."
        )
        self.add_follow_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        self.check_follow_options(options)
        connection = connection_by_name(options["connection"], purpose="pull")
        active = SyncJob.objects.filter(
            connection=connection, kind=JobKind.PULL, status__in=ACTIVE_STATUSES
        ).values_list("pk", flat=True)
        already = set(active)
        job = job_create_pull(
            connection=connection,
            source=JobSource.COMMAND,
            source_label=command_label("sync_pull"),
        )
        if job.pk in already:
            self.stdout.write(
                f"A refresh of {connection.name!r} is already {job.get_status_display().lower()}"
                f" as job {job.pk}."
            )
        else:
            self.stdout.write(f"Queued job {job.pk}: refresh the mirror of {connection.name!r}.")
        self.follow_or_return(job, options)
