"""``manage.py sync_job JOB_ID``: follow a sync job; or cancel it, or retry its failures."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from integrations.management.sync_command import EXIT_STATUS_HELP, SyncJobCommand
from integrations.models import SyncJob
from integrations.sync.services import JobStateError, job_cancel, job_retry_failed


class Command(SyncJobCommand):
    help = (
        "Follow a sync job until it finishes and print its outcome. "
        "--cancel stops it first; --retry-failed queues a new job re-sending its failed and "
        "unsent items, and follows that one." + EXIT_STATUS_HELP
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", metavar="JOB_ID", type=int)
        actions = parser.add_mutually_exclusive_group()
        actions.add_argument(
            "--cancel",
            action="store_true",
            help="Stop claiming items (calls in flight finish and are recorded), then follow.",
        )
        actions.add_argument(
            "--retry-failed",
            action="store_true",
            help="Queue a new job for the failed and unsent items of this finished job.",
        )
        self.add_follow_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        self.check_follow_options(options)
        job = SyncJob.objects.filter(pk=options["job_id"]).first()
        if job is None:
            raise CommandError(f"No sync job {options['job_id']}.")
        try:
            if options["cancel"]:
                job = job_cancel(job=job)
                self.stdout.write(
                    f"Cancelling job {job.pk}: calls in flight finish and are recorded; "
                    "the rest is not sent."
                )
            elif options["retry_failed"]:
                original = job
                job = job_retry_failed(job=original)
                self.stdout.write(
                    f"Queued job {job.pk}: retry {job.total} failed or unsent items of job "
                    f"{original.pk}."
                )
        except JobStateError as exc:
            raise CommandError(f"Job {job.pk}: {exc}") from None
        self.follow_or_return(job, options)
