"""Reads for the recipient pages: the mirror search, one recipient live and mirrored, history."""

from __future__ import annotations

import functools
import math
import operator
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
    Window,
)

from dashboard.recipients.provider import recipient_client
from integrations.catalogue import Provider
from integrations.clients import (
    CredentialsMissing,
    NotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Recipient,
    Unauthorized,
    Unavailable,
)
from integrations.clients.models import from_provider
from integrations.connection import BaseURLRefused, CredentialsUnreadable, WrongProvider
from integrations.models import (
    ACTIVE_STATUSES,
    Connection,
    JobKind,
    JobStatus,
    MirroredRecipient,
    SyncItem,
    SyncJob,
)
from integrations.sync.mirror import digits, fold

# Longer queries are cut: no name, email or id is longer, and LIKE patterns stay cheap.
QUERY_MAX_LENGTH = 200
# A query made only of these characters (and with enough digits) is also tried as a phone.
PHONE_QUERY_RE = re.compile(r"^[0-9\s+\-().]+$")
PHONE_MIN_DIGITS = 4
# A name word of the query this long is matched anywhere in a name; a shorter one, at the start
# of a name's word (see ``_name_word``).
NAME_WORD_ANYWHERE_MIN = 3
SEARCH_PROVIDERS = (Provider.REDFLAG, Provider.SNAPPY)
# Beyond this many matches the total is shown as "1,000+": counting every match of a short
# query ("an", "son") costs as much as the search itself, and nobody pages past page 40.
RESULTS_COUNT_CAP = 1000
# The order of the results (model fields whose columns have the same names).
SEARCH_ORDER = ("last_name", "first_name", "id")
# How long a connection's live-recipient count may be reused: counting 100,000 rows costs more
# than the whole search. A finished pull changes ``mirror_refreshed_at`` and so the cache key
# (see ``_count_key``); this bounds how late a single create or delete shows in the count.
MIRROR_COUNT_TTL = 30
# A refresh that ran to an end (cancelled ones prove nothing either way).
ENDED_PULL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.PARTIALLY_FAILED, JobStatus.FAILED)


def search_query_clean(raw: str | None) -> str:
    """The query as searched: control characters dropped, spaces collapsed, length capped.

    PostgreSQL refuses NUL in text, and no name or email contains a control character.
    """
    text = "".join(
        " " if ch.isspace() else ch
        for ch in (raw or "")
        if ch.isspace() or unicodedata.category(ch) not in {"Cc", "Cs"}
    )
    return " ".join(text.split())[:QUERY_MAX_LENGTH]


def searchable_connections(*, with_running_pull: bool = False) -> QuerySet[Connection]:
    """The connections whose recipients support staff may look up: active, with recipients.

    ``with_running_pull`` adds ``running_pull_id`` to each, the refresh running for it (or
    ``None``), read in the same query: ``mirror_statuses`` then needs no query of its own.
    """
    connections = Connection.objects.filter(is_active=True, provider__in=SEARCH_PROVIDERS)
    if with_running_pull:
        connections = connections.annotate(
            running_pull_id=_running_pull(), failed_pull_id=_failed_pull()
        )
    return connections


def searchable_connection_list(*, with_running_pull: bool = False) -> list[Connection]:
    """``searchable_connections()``, read with its SQL as the ORM wrote it the first time.

    Every search request reads them, and composing the query (the running pull's subquery
    above all) cost the ORM ten times the query itself (``bench/lookup.py``). Its parameters are
    constants (the providers, the job kind and statuses), so its SQL never changes.
    """
    sql, params = _searchable_connections_sql(with_running_pull)
    return list(Connection.objects.raw(sql, params))


@functools.cache
def _searchable_connections_sql(with_running_pull: bool) -> tuple[str, tuple[Any, ...]]:
    return searchable_connections(with_running_pull=with_running_pull).query.sql_with_params()


def _running_pull() -> Subquery:
    """The oldest active pull job of the outer query's connection."""
    return Subquery(
        SyncJob.objects.filter(
            connection=OuterRef("pk"), kind=JobKind.PULL, status__in=ACTIVE_STATUSES
        )
        .order_by("created_at")
        .values("pk")[:1]
    )


def _failed_pull() -> Subquery:
    """The outer query's connection's last finished refresh if it failed, else NULL."""
    return Subquery(
        SyncJob.objects.filter(
            connection=OuterRef("pk"), kind=JobKind.PULL, status__in=ENDED_PULL_STATUSES
        )
        .order_by("-created_at", "-pk")
        .annotate(failed=Case(When(status=JobStatus.FAILED, then=F("pk")), default=None))
        .values("failed")[:1]
    )


def recipient_matches(*, query: str, connection_ids: Sequence[int]) -> QuerySet[MirroredRecipient]:
    """Select the live recipients of the connections matching ``query``, unordered.

    ``query`` is as ``search_query_clean`` leaves it; an empty one matches everyone.
    Recipients that have left the provider (``gone_at`` set) are not included.
    """
    recipients = MirroredRecipient.objects.filter(
        gone_at__isnull=True, connection_id__in=connection_ids
    )
    if not query:
        return recipients
    return recipients.filter(recipient_match(query=query, connection_ids=connection_ids))


def recipient_match(*, query: str, connection_ids: Sequence[int]) -> Q:
    """Build the condition of a recipient matching ``query``: any of the branches below.

    Email (exact or prefix), names (every word, anywhere, accents ignored; a word of one or
    two letters at the start of a name's word), external id (exact or prefix), phone (its
    digits, any formatting) and remote id (exact, in one of ``connection_ids``).

    Each branch is a plain or ``LIKE`` comparison on a column the mirror keeps for search
    (``email_lower``, ``name_search``, ``phone_digits``) and each has an index on
    PostgreSQL, so the planner combines them (a bitmap OR) instead of reading the mirror:
    ``__startswith`` on ``email_lower`` and ``external_id`` reads a range of a
    ``varchar_pattern_ops`` B-tree (Django's ``_like`` index of an indexed ``CharField``;
    ``mirror_external_id_prefix``), ``__contains`` the trigram indexes (migration
    ``integrations.0002``), the remote id the unique (connection, remote id) index.
    """
    lowered = query.lower()
    folded = fold(query)
    either = Q(email_lower__startswith=lowered)
    if folded != lowered:  # "zoë.müller@" still finds zoe.muller@…
        either |= Q(email_lower__startswith=folded)
    words = folded.split()
    if words:
        either |= functools.reduce(operator.and_, (_name_word(word) for word in words))
    either |= Q(external_id__startswith=query)
    # With the connection ids in the same condition, the unique (connection, remote_id) index
    # serves this branch, so PostgreSQL can combine it with the trigram indexes (a bitmap OR)
    # instead of filtering every row of the mirror.
    either |= Q(connection_id__in=connection_ids, remote_id__in=sorted({query, lowered}))
    if PHONE_QUERY_RE.match(query):
        # A national number typed with its trunk prefix (07911…) still finds +44 7911….
        number = digits(query).lstrip("0")
        if len(number) >= PHONE_MIN_DIGITS:
            either |= Q(phone_digits__contains=number)
    return either


def _name_word(word: str) -> Q:
    """Build the condition a word of the query puts on the names (the word-start rule).

    The word is matched anywhere in the names, or, when it is shorter than
    ``NAME_WORD_ANYWHERE_MIN``, at the start of a name's word ("li" finds Li Wei, Lisa and
    Anna Li-Tanaka, not Amelia).

    One or two letters anywhere in a name match a tenth of the people, and no trigram index
    serves them: PostgreSQL would read the whole mirror on every first keystrokes of a
    search as typed. At the start of a word they are what the user means and the trigram
    index serves them (a word start is a trigram, "  l" or " li").
    """
    if len(word) >= NAME_WORD_ANYWHERE_MIN:
        return Q(name_search__contains=word)
    return (
        Q(name_search__startswith=word)
        | Q(name_search__contains=f" {word}")
        | Q(name_search__contains=f"-{word}")
    )


class ResultRow(NamedTuple):
    """A recipient as the results list it: the mirror's columns of the same names (the
    provider's record, JSON, stays in the database) and its connection.

    A tuple, not a model instance: building 25 deferred ``MirroredRecipient`` instances cost
    a millisecond of every page of results, and a results row is only read.
    """

    id: int
    connection_id: int
    remote_id: str
    email: str
    first_name: str
    last_name: str
    external_id: str
    phone: str
    connection: Connection


# The columns a results row reads, in its order, and where its connection's id is.
RESULT_COLUMNS = ResultRow._fields[:-1]
_CONNECTION_ID_AT = RESULT_COLUMNS.index("connection_id")


@dataclass(frozen=True)
class ResultPage:
    """One page of search results and the number of matches, up to a cap.

    ``capped`` means more than ``count`` recipients match: the pages stop at the cap.
    """

    rows: list[ResultRow]
    number: int
    count: int
    capped: bool
    per_page: int

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.count / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def _page_number(raw: str | None) -> int:
    """The page asked for: a positive whole number, else the first page."""
    try:
        number = int(raw or 1)
    except (TypeError, ValueError):
        return 1
    return max(1, number)


def recipient_search_page(
    *,
    query: str,
    connections: Sequence[Connection],
    page: str | None,
    per_page: int,
    count_cap: int = RESULTS_COUNT_CAP,
) -> ResultPage:
    """One page of the recipients of ``connections`` matching ``query``
    (``recipient_matches``), in name order, with the total, in one query.

    The page is read with the number of matches beside each row (``_page_queryset``); the
    pages stop at ``count_cap``, and beyond it the total reads as a lower bound. A page past
    the end shows the last page (two more queries); a page that is not a positive number,
    the first. Each row's ``connection`` is taken from ``connections`` (no join).
    """
    last_page = math.ceil(count_cap / per_page)
    number = min(_page_number(page), last_page)
    ids = [c.pk for c in connections]
    if not ids:
        return ResultPage(rows=[], number=1, count=0, capped=False, per_page=per_page)
    matches = recipient_matches(query=search_query_clean(query), connection_ids=ids)
    fetched, counted = _page_and_total(
        matches, offset=(number - 1) * per_page, limit=per_page, cap=count_cap
    )
    if not fetched and number > 1:  # past the end: the last page
        counted = matches[: count_cap + 1].count()
        number = max(1, math.ceil(min(counted, count_cap) / per_page))
        fetched, counted = _page_and_total(
            matches, offset=(number - 1) * per_page, limit=per_page, cap=count_cap
        )
    by_pk = {c.pk: c for c in connections}
    return ResultPage(
        rows=[ResultRow._make((*row, by_pk[row[_CONNECTION_ID_AT]])) for row in fetched],
        number=number,
        count=min(counted, count_cap),
        capped=counted > count_cap,
        per_page=per_page,
    )


def _page_and_total(
    matches: QuerySet[MirroredRecipient], *, offset: int, limit: int, cap: int
) -> tuple[list[tuple[Any, ...]], int]:
    """Read ``limit`` rows from ``offset`` of ``matches`` in name order, and the total.

    Each row is ``RESULT_COLUMNS``' values; the total is how many match, at most ``cap`` + 1.
    With no row on the page (past the end) there is no total, and 0 is returned.
    """
    rows = list(_page_queryset(matches, offset=offset, limit=limit, cap=cap))
    return [row[:-1] for row in rows], (rows[0][-1] if rows else 0)


def _page_queryset(
    matches: QuerySet[MirroredRecipient], *, offset: int, limit: int, cap: int
) -> QuerySet[MirroredRecipient, tuple[Any, ...]]:
    """Select one page of ``matches`` in name order as ``RESULT_COLUMNS``, and the total::

        SELECT <columns>, COUNT(*) OVER () FROM mirror
        WHERE id IN (SELECT id FROM mirror WHERE <matches> ORDER BY <name> LIMIT cap + 1)
        ORDER BY <name> LIMIT <limit> OFFSET <offset>

    The window counts the page's candidates as they are read, so the total costs no second
    query; it counts at most the first ``cap`` + 1 matches in name order, so a broad
    search ("an", a common surname) is not counted whole.
    """
    first = matches.order_by(*SEARCH_ORDER).values("pk")[: cap + 1]
    return (
        MirroredRecipient.objects.filter(pk__in=first)
        .annotate(total=Window(Count("*")))
        .order_by(*SEARCH_ORDER)
        .values_list(*RESULT_COLUMNS, "total")[offset : offset + limit]
    )


def search_page_sql(
    *, query: str, connection_ids: Sequence[int], per_page: int, cap: int = RESULTS_COUNT_CAP
) -> tuple[str, tuple[Any, ...]]:
    """Return the SQL and parameters of the first page ``recipient_search_page`` reads.

    For ``EXPLAIN`` (``bench/lookup.py``).
    """
    matches = recipient_matches(query=search_query_clean(query), connection_ids=connection_ids)
    page = _page_queryset(matches, offset=0, limit=per_page, cap=cap)
    return page.query.sql_with_params()


@dataclass(frozen=True)
class MirrorStatus:
    """How fresh one connection's mirror is, and the refresh (pull job) running for it, if any."""

    connection: Connection
    recipients: int
    refreshed_at: datetime | None
    running_job_id: int | None
    failed_job: SyncJob | None = None  # the last finished refresh, when it failed

    @property
    def running(self) -> bool:
        return self.running_job_id is not None


def _count_key(connection: Connection) -> str:
    """The cache key of a connection's live-recipient count.

    It names the mirror's last complete refresh, so a finished pull (which sets
    ``mirror_refreshed_at``) is counted afresh at once, in every process; the creation time
    keeps a key from outliving its connection.
    """
    refreshed = connection.mirror_refreshed_at
    return (
        f"recipients:mirror-count:{connection.pk}:{connection.created_at.timestamp()}:"
        f"{refreshed.timestamp() if refreshed else 'never'}"
    )


_NOT_READ = object()


def mirror_statuses(*, connections: list[Connection]) -> list[MirrorStatus]:
    """One status per connection, in at most two queries whatever the number of connections.

    The running pulls come with the connections when they were read
    ``searchable_connections(with_running_pull=True)``, else from one query. The recipient
    counts come from the cache (``MIRROR_COUNT_TTL``) except while a pull is running for the
    connection, when they change batch by batch.
    """
    running: dict[int, int] = {}
    failed: dict[int, int] = {}
    unknown = []
    for c in connections:
        read = getattr(c, "running_pull_id", _NOT_READ)
        if read is _NOT_READ:
            unknown.append(c.pk)
            continue
        if read is not None:
            running[c.pk] = int(read)  # type: ignore[call-overload]
        if getattr(c, "failed_pull_id", None) is not None:
            failed[c.pk] = int(c.failed_pull_id)  # type: ignore[attr-defined]
    if unknown:
        for connection_id, running_id, failed_id in (
            Connection.objects.filter(pk__in=unknown)
            .annotate(running_id=_running_pull(), failed_id=_failed_pull())
            .values_list("pk", "running_id", "failed_id")
        ):
            if running_id is not None:
                running[connection_id] = running_id
            if failed_id is not None:
                failed[connection_id] = failed_id
    # A failed refresh is rare: its job is read only when there is one.
    failed_jobs = (
        {
            job.connection_id: job
            for job in SyncJob.objects.filter(pk__in=failed.values()).only(
                "pk", "connection_id", "finished_at", "error_message", "status"
            )
        }
        if failed
        else {}
    )
    keys = {c.pk: _count_key(c) for c in connections if c.pk not in running}
    cached = cache.get_many(list(keys.values())) if keys else {}
    counts = {pk: cached[key] for pk, key in keys.items() if key in cached}
    missing = [c.pk for c in connections if c.pk not in counts]
    if missing:
        fresh = dict(
            MirroredRecipient.objects.filter(connection_id__in=missing, gone_at__isnull=True)
            .values_list("connection_id")
            .annotate(n=Count("*"))  # count(*) lets the partial index answer alone
            .values_list("connection_id", "n")
        )
        fresh = {pk: fresh.get(pk, 0) for pk in missing}
        counts |= fresh
        cache.set_many(
            {keys[pk]: n for pk, n in fresh.items() if pk in keys}, timeout=MIRROR_COUNT_TTL
        )
    return [
        MirrorStatus(
            connection=c,
            recipients=counts[c.pk],
            refreshed_at=c.mirror_refreshed_at,
            running_job_id=running.get(c.pk),
            failed_job=failed_jobs.get(c.pk),
        )
        for c in connections
    ]


def mirror_recipient_get(*, connection: Connection, remote_id: str) -> MirroredRecipient | None:
    return MirroredRecipient.objects.filter(connection=connection, remote_id=remote_id).first()


def mirror_as_recipient(row: MirroredRecipient) -> Recipient:
    """The mirror's copy read the same way as a live record."""
    return from_provider(row.connection.provider, row.record or {})


@dataclass
class LiveRecord:
    """The provider's record as fetched now, or why it could not be.

    ``problem`` is plain words for a notice; ``gone`` means the provider answered that it no
    longer has the recipient; ``blocked`` means the connection cannot be used at all (no or
    unreadable credentials, a refused base URL) rather than a passing failure.
    """

    recipient: Recipient | None = None
    problem: str = ""
    gone: bool = False
    blocked: bool = False
    accounts: list[tuple[str, str]] | None = field(default=None)


def provider_problem(exc: ProviderError, label: str) -> str:
    """A provider error in words for a notice on a recipient page."""
    if isinstance(exc, CredentialsUnreadable):
        return (
            "Credentials unreadable: the stored credentials of this connection cannot be "
            "decrypted with the configured keys. An HR admin must re-enter them."
        )
    if isinstance(exc, CredentialsMissing):
        return "This connection has no usable credentials. An HR admin must enter them."
    if isinstance(exc, BaseURLRefused):
        return f"The connection's base URL is refused: {exc.message}"
    if isinstance(exc, ProviderTimeout):
        return f"{label} did not answer in time."
    if isinstance(exc, RateLimited):
        return f"{label} is rate limiting requests; try again in a moment."
    if isinstance(exc, Unavailable):
        return f"{label} is unreachable or having trouble. {exc.message}"
    if isinstance(exc, Unauthorized):
        return f"{label} rejected the connection's credentials. {exc.message}"
    return exc.message


def provider_label(connection: Connection) -> str:
    return connection.provider_enum.label


def recipient_live_get(
    *, connection: Connection, remote_id: str, with_accounts: bool = False
) -> LiveRecord:
    """Fetch the provider's record (and, for editing at Snappy, the company's accounts).

    Never raises for a provider failure: the pages show the mirror's copy with a notice.
    """
    label = provider_label(connection)
    try:
        client = recipient_client(connection)
    except (CredentialsMissing, BaseURLRefused, WrongProvider) as exc:
        return LiveRecord(problem=provider_problem(exc, label), blocked=True)
    try:
        try:
            recipient = client.get_recipient(remote_id)
        except NotFound:
            return LiveRecord(
                problem=f"{label} no longer has this recipient: it was deleted there.",
                gone=True,
            )
        except ProviderError as exc:
            return LiveRecord(problem=provider_problem(exc, label))
        live = LiveRecord(recipient=recipient)
        if with_accounts and connection.provider_enum is Provider.SNAPPY:
            live.accounts = snappy_account_choices(client)
        return live
    finally:
        client.close()


def snappy_account_choices(client: Any) -> list[tuple[str, str]] | None:
    """The company's accounts as ``(id, name)``, or None when Snappy does not list them."""
    try:
        accounts = client.list_accounts()
    except ProviderError:
        return None
    choices = []
    for account in accounts:
        account_id = str(account.get("id") or account.get("_id") or "")
        if account_id:
            choices.append((account_id, str(account.get("name") or account_id)))
    return choices


def connection_accounts(*, connection: Connection) -> LiveRecord:
    """The Snappy accounts a new recipient may join (for the create form)."""
    label = provider_label(connection)
    try:
        client = recipient_client(connection)
    except (CredentialsMissing, BaseURLRefused, WrongProvider) as exc:
        return LiveRecord(problem=provider_problem(exc, label), blocked=True)
    try:
        return LiveRecord(accounts=snappy_account_choices(client))
    finally:
        client.close()


def recipient_sync_items(
    *, connection: Connection, email: str, remote_id: str, limit: int = 50
) -> list[SyncItem]:
    """The sync items that touched this person, newest first: by email or by remote id."""
    match = Q(remote_id=remote_id) if remote_id else Q(pk__in=[])
    if email:
        match |= Q(identifier__in={email, email.lower()})
    return list(
        SyncItem.objects.filter(match, job__connection=connection)
        .select_related("job")
        .order_by("-job__created_at", "-id")[:limit]
    )
