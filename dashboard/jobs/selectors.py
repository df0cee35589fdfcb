"""Reads of sync jobs and their items for the history pages and the overview."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, DurationField, ExpressionWrapper, F, QuerySet
from django.db.models.functions import Coalesce, Now, TruncDate
from django.utils import timezone

from dashboard.core.postgresql.plans import custom_plans
from dashboard.housekeeping.models import PrunedItems
from integrations.models import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    ItemStatus,
    JobKind,
    JobStatus,
    SyncItem,
    SyncJob,
)

FAILURE_STATUSES = (JobStatus.FAILED, JobStatus.PARTIALLY_FAILED)
# The items errors.csv lists: those a retry would send again.
UNSENT_STATUSES = (ItemStatus.FAILED, ItemStatus.SKIPPED)
# Tabs of a job's item table, in this order; "" is every item.
ITEM_TABS = [
    ("", "All"),
    (ItemStatus.FAILED, "Failed"),
    (ItemStatus.SKIPPED, "Not sent"),
    (ItemStatus.UNKNOWN, "Unknown"),
    (ItemStatus.SUCCEEDED, "Succeeded"),
    (ItemStatus.IN_FLIGHT, "In flight"),
    (ItemStatus.PENDING, "Pending"),
]


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def job_list(
    *,
    connection_id: int | None = None,
    status: str = "",
    kind: str = "",
    started_by: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
    sort: str = "newest",
) -> QuerySet[SyncJob]:
    jobs = SyncJob.objects.select_related("connection")
    if connection_id is not None:
        jobs = jobs.filter(connection_id=connection_id)
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    if started_by:
        jobs = jobs.filter(started_by_name=started_by)
    # Day bounds as datetimes (not ``__date``) so the created_at index serves the range.
    if since:
        jobs = jobs.filter(created_at__gte=_day_start(since))
    if until:
        jobs = jobs.filter(created_at__lt=_day_start(until + dt.timedelta(days=1)))
    if sort == "oldest":
        return jobs.order_by("created_at", "id")
    if sort == "failed":
        return jobs.order_by("-n_failed", "-created_at", "-id")
    if sort == "longest":
        # A running job counts up to now; a job that never started sorts last.
        duration = ExpressionWrapper(
            Coalesce("finished_at", Now()) - F("started_at"), output_field=DurationField()
        )
        return jobs.annotate(duration=duration).order_by(
            F("duration").desc(nulls_last=True), "-created_at", "-id"
        )
    return jobs.order_by("-created_at", "-id")


def job_starters() -> list[str]:
    """Everyone who started a job (user names, or "system"), for the filter."""
    return list(
        SyncJob.objects.order_by("started_by_name")
        .values_list("started_by_name", flat=True)
        .distinct()
    )


def job_get(*, pk: int) -> SyncJob | None:
    return (
        SyncJob.objects.select_related("connection", "acknowledged_by", "retry_of")
        .filter(pk=pk)
        .first()
    )


def job_retried_as(*, job: SyncJob) -> list[SyncJob]:
    return list(job.retries.order_by("created_at", "id").only("id", "status", "created_at"))


def job_item_counts(*, job: SyncJob) -> dict[str, int]:
    """Items per status, from the job's counters rather than by counting its items.

    The engine updates the counters in the transaction that records each item, and recounts
    them from the items when the job ends, so a page of a job with a million items never
    counts them. Only the items in flight are counted, and only while the job is active
    (there are at most a few batches of them).
    """
    in_flight = 0 if job.is_finished else job.items.filter(status=ItemStatus.IN_FLIGHT).count()
    # Unknown outcomes (creates being checked) are counted apart from failed ones.
    unknown = job.n_unknown
    done = job.n_succeeded + job.n_failed + job.n_skipped + unknown
    return {
        ItemStatus.SUCCEEDED: job.n_succeeded,
        ItemStatus.FAILED: job.n_failed,
        ItemStatus.SKIPPED: job.n_skipped,
        ItemStatus.UNKNOWN: unknown,
        ItemStatus.IN_FLIGHT: in_flight,
        ItemStatus.PENDING: max(job.total - done - in_flight, 0),
    }


@dataclass(frozen=True)
class ItemTab:
    status: str
    label: str
    count: int
    current: bool


def job_item_tabs(*, counts: dict[str, int], current: str) -> list[ItemTab]:
    """The status tabs above the item table; empty ones are left out, except All and Failed."""
    total = sum(counts.values())
    tabs = []
    for status, label in ITEM_TABS:
        count = total if status == "" else counts.get(status, 0)
        if count or status in ("", ItemStatus.FAILED) or status == current:
            tabs.append(ItemTab(str(status), label, count, status == current))
    return tabs


def job_items(*, job: SyncJob, status: str = "") -> QuerySet[SyncItem]:
    # The payload can be large and the table does not show it.
    items = job.items.defer("payload").order_by("seq")
    if status:
        items = items.filter(status=status)
    return items


@dataclass(frozen=True)
class ItemPage:
    """One page of a job's items, read by keyset (``seq``), never by OFFSET.

    ``after`` and ``before`` are the cursors of the next and previous pages (``None`` when
    there is none): the next page is the items with a ``seq`` above ``after``, the previous
    one those below ``before``.
    """

    items: list[SyncItem]
    count: int
    after: int | None
    before: int | None

    @property
    def has_next(self) -> bool:
        return self.after is not None

    @property
    def has_previous(self) -> bool:
        return self.before is not None


def job_item_page(
    *,
    job: SyncJob,
    status: str = "",
    count: int,
    after: int | None = None,
    before: int | None = None,
    last: bool = False,
    per_page: int = 100,
) -> ItemPage:
    """A page of the job's items in file order: the first, the one after or before a
    ``seq``, or the last.

    Each page is one range read of the (job, seq) or (job, status, seq) index, one row more
    than the page to know whether another page follows, and an ``exists()`` for the other
    direction: the last page of a million items costs what the first does. ``count`` is the
    tab's count from the job's counters (``job_item_counts``), shown, never counted. A cursor
    past either end shows the nearest page that has items; going back to the start shows
    the first page whole. The reads are planned for their values (``custom_plans``): a
    generic plan sorts the whole job.
    """
    with custom_plans():
        items = job_items(job=job, status=status)
        if before is not None:
            page, more = _page_rows(items.filter(seq__lt=before).order_by("-seq"), per_page)
            if more:  # else back at the start: the first page, whole, as "First" shows it
                page.reverse()
                has_next = items.filter(seq__gt=page[-1].seq).exists()
                return _item_page(page, count, has_next=has_next, has_previous=True)
        elif after is not None:
            page, more = _page_rows(items.filter(seq__gt=after).order_by("seq"), per_page)
            if page:
                has_previous = items.filter(seq__lt=page[0].seq).exists()
                return _item_page(page, count, has_next=more, has_previous=has_previous)
            last = True  # past the end: the last page
        if last:
            page, more = _page_rows(items.order_by("-seq"), per_page)
            page.reverse()
            return _item_page(page, count, has_next=False, has_previous=more)
        page, more = _page_rows(items, per_page)
        return _item_page(page, count, has_next=more, has_previous=False)


def _item_page(page: list[SyncItem], count: int, *, has_next: bool, has_previous: bool) -> ItemPage:
    return ItemPage(
        items=page,
        count=count,
        after=page[-1].seq if page and has_next else None,
        before=page[0].seq if page and has_previous else None,
    )


def _page_rows(items: QuerySet[SyncItem], per_page: int) -> tuple[list[SyncItem], bool]:
    """Up to ``per_page`` items, and whether there were more."""
    rows = list(items[: per_page + 1])
    return rows[:per_page], len(rows) > per_page


def job_items_pruned(*, job: SyncJob) -> PrunedItems | None:
    """Whether housekeeping removed the job's items (``dashboard.housekeeping.services``)."""
    return PrunedItems.objects.filter(job=job).first()


def job_unsent_items(*, job: SyncJob) -> Iterator[SyncItem]:
    """Failed and unsent items in order, streamed in chunks (a job may have a million)."""
    return (
        job.items.filter(status__in=UNSENT_STATUSES)
        .order_by("seq")
        .only(
            "seq",
            "identifier",
            "operation",
            "status",
            "http_status",
            "error_code",
            "error_message",
            "payload",
        )
        .iterator(chunk_size=2000)
    )


@dataclass(frozen=True)
class JobProgress:
    percent: int
    done: int
    pending: int
    total: int
    rate: float | None  # items per second since the job started
    seconds_left: float | None
    elapsed: float | None
    counts_known: bool  # False for a running pull: its total grows as pages arrive


def job_progress(*, job: SyncJob) -> JobProgress:
    elapsed = job.duration_seconds
    done = job.n_done
    # Records actually sent; those marked "not sent" when a job stops took no time.
    sent = job.n_succeeded + job.n_failed
    rate = sent / elapsed if elapsed and elapsed >= 1 and sent else None
    pending = job.n_pending
    seconds_left = None
    if rate and pending and job.status == JobStatus.RUNNING and job.kind != JobKind.PULL:
        seconds_left = pending / rate
    return JobProgress(
        percent=job.percent,
        done=done,
        pending=pending,
        total=job.total,
        rate=rate,
        seconds_left=seconds_left,
        elapsed=elapsed,
        counts_known=job.kind != JobKind.PULL or job.is_finished,
    )


def jobs_running(*, limit: int = 20) -> list[SyncJob]:
    return list(
        SyncJob.objects.select_related("connection")
        .filter(status__in=ACTIVE_STATUSES)
        .order_by("created_at", "id")[:limit]
    )


def jobs_recent_failures(*, limit: int = 10) -> list[SyncJob]:
    """The latest failed or partially failed jobs, those not acknowledged yet first."""
    recent = list(
        SyncJob.objects.select_related("connection", "acknowledged_by")
        .filter(status__in=FAILURE_STATUSES)
        .order_by("-created_at", "-id")[:limit]
    )
    return sorted(recent, key=lambda job: job.acknowledged_at is not None)


@dataclass(frozen=True)
class DayOutcomes:
    day: dt.date
    counts: dict[str, int]  # finished status -> jobs created that day

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failures(self) -> int:
        return sum(self.counts.get(status, 0) for status in FAILURE_STATUSES)


def job_daily_outcomes(*, days: int = 30, today: dt.date | None = None) -> list[DayOutcomes]:
    """Finished jobs per day (by the day they were created) for the last ``days`` days.

    One grouped query; days without jobs are filled in with zeros.
    """
    today = today or timezone.localdate()
    first = today - dt.timedelta(days=days - 1)
    rows = (
        SyncJob.objects.filter(
            created_at__gte=_day_start(first),
            created_at__lt=_day_start(today + dt.timedelta(days=1)),
            status__in=FINISHED_STATUSES,
        )
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values_list("day", "status")
        .annotate(n=Count("id"))
    )
    by_day: dict[dt.date, dict[str, int]] = {}
    for day, status, n in rows:
        by_day.setdefault(day, {})[status] = n
    return [
        DayOutcomes(day=day, counts=by_day.get(day, {}))
        for day in (first + dt.timedelta(days=offset) for offset in range(days))
    ]
