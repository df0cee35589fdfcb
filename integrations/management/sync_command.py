"""What the sync commands share: finding a connection, following a job, the exit status.

Exit status of a command that follows a job: 0 when the job succeeded; 1 when it partially
failed, failed or was cancelled (and for bad input); 130 when Ctrl-C stopped the following
(the job itself keeps running).
"""

from __future__ import annotations

import getpass
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.management.progress import JobVanished, follow_job, job_report
from integrations.models import Connection, JobStatus, SyncJob

EXIT_INTERRUPTED = 130  # the shell's convention for "stopped by SIGINT"
EXIT_STATUS_HELP = (
    " Exit status: 0 if the job succeeded; 1 if it partially failed, failed or was cancelled "
    "(or the input was refused); 130 after Ctrl-C, which stops following, not the job."
)


def connection_by_name(name: str, *, purpose: str) -> Connection:
    """The active recipient connection named ``name`` (case-insensitive), or CommandError."""
    connection = Connection.objects.filter(name__iexact=name.strip()).first()
    if connection is None:
        names = list(Connection.objects.values_list("name", flat=True))
        known = ", ".join(repr(n) for n in names) if names else "none yet"
        raise CommandError(f"No connection named {name!r}. Connections: {known}.")
    if connection.provider == "parcelvoy":
        raise CommandError(
            f"{connection.name!r} is a campaign connection: it has no recipients to {purpose}."
        )
    if not connection.is_active:
        raise CommandError(f"The connection {connection.name!r} is disabled; enable it first.")
    return connection


def command_label(command: str, detail: str = "") -> str:
    """Where a job came from, for the history: the command, its input, who ran it, where."""
    try:
        who = f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):  # no login name in some containers
        who = socket.gethostname()
    return " ".join(part for part in (command, detail, f"({who})") if part)[:200]


class SyncJobCommand(BaseCommand):
    """A command that queues or steers a sync job, then follows it unless told not to."""

    def add_follow_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-follow",
            action="store_true",
            help="Return as soon as the job is queued instead of following its progress.",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between progress checks (default 0.5 on a terminal, 2 otherwise).",
        )

    def check_follow_options(self, options: dict[str, Any]) -> None:
        """Refuse bad follow options before anything is queued."""
        interval = options.get("interval")
        if interval is not None and not 0.05 <= interval <= 60:
            raise CommandError("--interval must be between 0.05 and 60 seconds.")

    def follow_or_return(self, job: SyncJob, options: dict[str, Any]) -> None:
        if options["no_follow"]:
            self.stdout.write(
                f"Not following. Follow it with: manage.py sync_job {job.pk}  "
                f"(or open /jobs/{job.pk}/)"
            )
            return
        self.follow_and_exit(job, interval=options.get("interval"))

    def follow_and_exit(self, job: SyncJob, *, interval: float | None = None) -> None:
        """Follow ``job`` until it finishes, print the report, and exit with its status."""
        try:
            follow = follow_job(job.pk, self.stdout, interval=interval)
        except JobVanished as exc:
            raise CommandError(str(exc)) from None
        job = follow.job
        if follow.interrupted:
            self.stderr.write(
                f"Stopped following job {job.pk}; the job itself keeps running "
                f"({job.get_status_display().lower()}, {job.n_done}/{job.total} done). "
                f"Follow it again with: manage.py sync_job {job.pk}; "
                f"cancel it with: manage.py sync_job {job.pk} --cancel",
                style_func=self.style.WARNING,
            )
            raise SystemExit(EXIT_INTERRUPTED)
        for line in job_report(job):
            self.stdout.write(line)
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Job {job.pk} {job.get_status_display().lower()}.", returncode=1)
