"""Follow a sync job in a terminal: the progress display and the final report.

Shared by the ``sync_push``, ``sync_pull`` and ``sync_job`` commands. The job's row is the
only source: this module polls it and never talks to a worker, so it can follow a job that
any worker on any machine runs, and stopping to follow (Ctrl-C) never touches the job.

On a terminal the progress is one line redrawn in place with ``\\r``; elsewhere (a pipe, a
log file, CI) it is a plain line every few seconds, so logs stay readable.
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.management.base import OutputWrapper
from django.db.models import Count

from integrations.models import ItemStatus, JobKind, JobStatus, SyncJob

MIN_BAR_WIDTH, MAX_BAR_WIDTH = 10, 30
# The rate is measured over the last few seconds, so the time left follows the job's current
# speed (a 429 slow-down, a second worker joining) rather than its average since the start.
RATE_WINDOW_SECONDS = 15.0
# A queued job that no worker has started after this long probably has no worker at all.
NO_WORKER_HINT_AFTER = 30.0
TOP_REASONS = 5


@dataclass(frozen=True)
class Follow:
    """How following ended: the job's last known state and whether the user stopped it."""

    job: SyncJob
    interrupted: bool


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class RateMeter:
    """Items per second over a sliding window of (time, items sent) observations."""

    def __init__(self, window: float = RATE_WINDOW_SECONDS) -> None:
        self.window = window
        self._points: deque[tuple[float, int]] = deque()

    def reset(self) -> None:
        self._points.clear()

    def observe(self, now: float, sent: int) -> None:
        self._points.append((now, sent))
        while len(self._points) > 2 and now - self._points[1][0] >= self.window:
            self._points.popleft()

    @property
    def rate(self) -> float | None:
        if len(self._points) < 2:
            return None
        (t0, n0), (t1, n1) = self._points[0], self._points[-1]
        if t1 - t0 < 0.5:
            return None
        return max(n1 - n0, 0) / (t1 - t0)


def _sent(job: SyncJob) -> int:
    # Items marked "not sent" when a job stops took no time: leave them out of the rate.
    return job.n_succeeded + job.n_failed


def _rate(rate: float) -> str:
    return f"{rate:.1f}/s" if rate < 10 else f"{rate:.0f}/s"


def progress_text(job: SyncJob, rate: float | None, *, waited: float, bar_width: int = 0) -> str:
    """One line describing where the job is; ``bar_width`` > 0 draws a bar (terminals)."""
    head = f"Job {job.pk} {job.get_status_display().lower()}"
    if job.status == JobStatus.QUEUED:
        return f"{head}: waiting for a worker ({format_duration(waited)})"
    if job.kind == JobKind.PULL:
        text = f"{head}: {job.n_succeeded} recipients read"
        return f"{text}, {_rate(rate)}" if rate else text
    done, total = job.n_done, job.total
    percent = int(100 * done / total) if total else 100
    parts = [f"{done}/{total} ({percent}%)", f"succeeded {job.n_succeeded}"]
    parts.append(f"failed {job.n_failed}")
    if job.n_skipped:
        parts.append(f"not sent {job.n_skipped}")
    if rate is not None:
        parts.append(_rate(rate))
    if job.status == JobStatus.RUNNING:
        left = job.n_pending / rate if rate else None
        parts.append(f"ETA {format_duration(left)}")
    if job.status == JobStatus.PAUSED:
        parts.append("(resume it from the dashboard)")
    if bar_width > 0:
        filled = bar_width * done // total if total else bar_width
        parts.insert(0, "[" + "#" * filled + "-" * (bar_width - filled) + "]")
    return f"{head}: " + "  ".join(parts)


class ProgressDisplay:
    """Write progress to a stream: redrawn in place on a terminal, periodic lines elsewhere."""

    def __init__(
        self, out: OutputWrapper, *, tty: bool | None = None, line_every: float = 5.0
    ) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.line_every = line_every
        self._last_line_at: float | None = None
        self._last_status = ""
        self._width = 0
        self._open = False  # a redrawn line is on screen and not yet ended

    def show(self, render: Callable[..., str], *, now: float, status: str) -> None:
        """Show ``render(bar_width)``: on a terminal, the bar takes the room the text leaves."""
        if self.tty:
            columns = shutil.get_terminal_size((100, 20)).columns - 1
            room = columns - len(render(bar_width=0)) - 4  # "[", "]" and two spaces
            text = render(bar_width=min(room, MAX_BAR_WIDTH) if room >= MIN_BAR_WIDTH else 0)
            text = text[:columns]  # a wrapped line cannot be redrawn with \r
            self.out.write("\r" + text.ljust(self._width), ending="")
            self.out.flush()
            self._width = len(text)
            self._open = True
            return
        due = self._last_line_at is None or now - self._last_line_at >= self.line_every
        if due or status != self._last_status:
            stamp = time.strftime("%H:%M:%S")
            self.out.write(f"{stamp} {render(bar_width=0)}")
            self._last_line_at = now
        self._last_status = status

    def note(self, text: str) -> None:
        """A message on its own line (the progress line, if drawn, stays above it)."""
        self.end_line()
        self.out.write(text)

    def end_line(self) -> None:
        if self._open:
            self.out.write("")
            self._open = False
            self._width = 0


class JobVanished(Exception):
    """The job's row was deleted while it was being followed."""


def follow_job(job_id: int, out: OutputWrapper, *, interval: float | None = None) -> Follow:
    """Poll the job and show its progress until it finishes or the user presses Ctrl-C.

    ``interval`` is the time between polls (default: half a second on a terminal, two
    seconds elsewhere, where a line is written every five seconds or on a status change).
    """
    display = ProgressDisplay(out)
    if interval is None:
        interval = 0.5 if display.tty else 2.0
    meter = RateMeter()
    started = time.monotonic()
    hinted = False
    job = _fetch(job_id)
    try:
        while True:
            now = time.monotonic()
            if job.status == JobStatus.RUNNING:
                meter.observe(now, _sent(job))
            else:
                meter.reset()  # time spent queued or paused is not the job's speed
            waited = now - started
            render = partial(progress_text, job, meter.rate, waited=waited)
            display.show(render, now=now, status=job.status)
            if job.is_finished:
                display.end_line()
                return Follow(job, interrupted=False)
            if job.status == JobStatus.QUEUED and waited >= NO_WORKER_HINT_AFTER and not hinted:
                hinted = True
                display.note(
                    f"No worker has started job {job.pk} after {waited:.0f} s. Is a Celery "
                    "worker running? (celery -A dashboard worker, or make demo)"
                )
            time.sleep(interval)
            job = _fetch(job_id)
    except KeyboardInterrupt:
        display.end_line()
        return Follow(job, interrupted=True)


def _fetch(job_id: int) -> SyncJob:
    job = SyncJob.objects.filter(pk=job_id).first()
    if job is None:
        raise JobVanished(f"Job {job_id} no longer exists (it was deleted).")
    return job


def failure_reasons(job: SyncJob, limit: int = TOP_REASONS) -> list[tuple[str, str, int]]:
    """The most common (error code, example message, count) among the job's failed items."""
    rows = (
        job.items.filter(status=ItemStatus.FAILED)
        .order_by()
        .values_list("error_code")
        .annotate(n=Count("id"))
        .order_by("-n", "error_code")[:limit]
    )
    reasons = []
    for code, count in rows:
        example = (
            job.items.filter(status=ItemStatus.FAILED, error_code=code)
            .order_by("seq")
            .values_list("error_message", flat=True)
            .first()
        )
        reasons.append((code or "error", example or "", count))
    return reasons


def job_report(job: SyncJob) -> list[str]:
    """The final report: the outcome, the counts, why it failed, where to see more."""
    duration = job.duration_seconds
    took = ""
    if duration is not None:
        took = f" in {duration:.1f} s" if duration < 60 else f" in {format_duration(duration)}"
    lines = [
        f"Job {job.pk} ({job.get_kind_display().lower()}, connection {job.connection_name!r}) "
        f"{job.get_status_display().lower()}{took}."
    ]
    if job.kind == JobKind.PULL:
        gone = f", {job.n_gone} no longer at the provider" if job.n_gone else ""
        lines.append(f"  {job.n_succeeded} recipients read into the mirror{gone}.")
    else:
        outcomes = [
            f"{n} {label}"
            for n, label in (
                (job.n_created, "created"),
                (job.n_updated, "updated"),
                (job.n_deleted, "deleted"),
                (job.n_unchanged, "unchanged"),
            )
            if n
        ]
        detail = f" ({', '.join(outcomes)})" if outcomes else ""
        lines.append(
            f"  {job.total} items: {job.n_succeeded} succeeded{detail}, "
            f"{job.n_failed} failed, {job.n_skipped} not sent."
        )
        if job.n_failed:
            lines.append("  Failures by reason:")
            for code, example, count in failure_reasons(job):
                lines.append(f"    {count:>6}  {code}: {example}")
    if job.error_message:
        lines.append(f"  Error: {job.error_message}")
    site = getattr(settings, "SITE_URL", "").rstrip("/")
    lines.append(f"  Details: {site}/jobs/{job.pk}/")
    return lines
