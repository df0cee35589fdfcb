"""Reads for the recipient pages: the mirror search, one recipient live and mirrored, history."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from dashboard.connections.models import Connection
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
from integrations.connection import BaseURLRefused, CredentialsUnreadable
from integrations.models import ACTIVE_STATUSES, JobKind, MirroredRecipient, SyncItem, SyncJob
from integrations.sync.mirror import digits, fold

# Longer queries are cut: no name, email or id is longer, and LIKE patterns stay cheap.
QUERY_MAX_LENGTH = 200
# A query made only of these characters (and with enough digits) is also tried as a phone.
PHONE_QUERY_RE = re.compile(r"^[0-9\s+\-().]+$")
PHONE_MIN_DIGITS = 4
SEARCH_PROVIDERS = (Provider.REDFLAG, Provider.SNAPPY)


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


def searchable_connections() -> QuerySet[Connection]:
    """The connections whose recipients support staff may look up: active, with recipients."""
    return Connection.objects.filter(is_active=True, provider__in=SEARCH_PROVIDERS)


def _match(query: str, connection_ids: list[int]) -> Q:
    """Match email (exact or prefix), names (every word, anywhere, accents ignored), external
    id (exact or prefix), phone (its digits, any formatting) and remote id (exact).

    Each condition is a plain or ``LIKE`` comparison on a column the mirror keeps for search
    (``email_lower``, ``name_search``, ``phone_digits``): on PostgreSQL the trigram indexes
    (migration ``integrations.0002``) serve ``LIKE 'x%'`` and ``LIKE '%x%'``.
    """
    lowered = query.lower()
    match = Q(email_lower__startswith=lowered)
    if fold(query) != lowered:  # "zoë.müller@" still finds zoe.muller@…
        match |= Q(email_lower__startswith=fold(query))
    words = [word for word in fold(query).split() if word]
    if words:
        names = Q()
        for word in words:
            names &= Q(name_search__contains=word)
        match |= names
    match |= Q(external_id__startswith=query)
    # With the connection ids in the same condition, the unique (connection, remote_id) index
    # serves this branch, so PostgreSQL can combine it with the trigram indexes (a bitmap OR)
    # instead of filtering every row of the mirror.
    match |= Q(connection_id__in=connection_ids, remote_id__in={query, lowered})
    if PHONE_QUERY_RE.match(query):
        # A national number typed with its trunk prefix (07911…) still finds +44 7911….
        number = digits(query).lstrip("0")
        if len(number) >= PHONE_MIN_DIGITS:
            match |= Q(phone_digits__contains=number)
    return match


def recipient_search(*, query: str, connection: Connection | None = None) -> QuerySet:
    """Mirrored recipients matching ``query`` in one connection, or in every searchable one.

    Recipients that have left the provider (``gone_at`` set) are not listed. An empty query
    lists everyone, by name.
    """
    query = search_query_clean(query)
    # Ids first (one small query): a literal list lets the planner use the per-column indexes,
    # where a subquery made it walk the connection index and filter every row.
    ids = (
        [connection.pk]
        if connection is not None
        else list(searchable_connections().values_list("pk", flat=True))
    )
    rows = MirroredRecipient.objects.filter(gone_at__isnull=True, connection_id__in=ids)
    if query:
        rows = rows.filter(_match(query, ids))
    return rows.select_related("connection").order_by("last_name", "first_name", "id")


@dataclass(frozen=True)
class MirrorStatus:
    """How fresh one connection's mirror is, and the refresh running for it, if any."""

    connection: Connection
    recipients: int
    refreshed_at: datetime | None
    running: SyncJob | None


def mirror_statuses(*, connections: list[Connection]) -> list[MirrorStatus]:
    """One status per connection, in three queries whatever the number of connections."""
    ids = [c.pk for c in connections]
    counts = dict(
        MirroredRecipient.objects.filter(connection_id__in=ids, gone_at__isnull=True)
        .values_list("connection_id")
        .annotate(n=Count("*"))  # count(*) lets the partial index answer alone
        .values_list("connection_id", "n")
    )
    running: dict[int, SyncJob] = {}
    for job in SyncJob.objects.filter(
        connection_id__in=ids, kind=JobKind.PULL, status__in=ACTIVE_STATUSES
    ).order_by("created_at"):
        running.setdefault(job.connection_id, job)
    return [
        MirrorStatus(
            connection=c,
            recipients=counts.get(c.pk, 0),
            refreshed_at=c.mirror_refreshed_at,
            running=running.get(c.pk),
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
    return {"redflag": "RedFlag", "snappy": "Snappy"}.get(connection.provider, "The provider")


def recipient_live_get(
    *, connection: Connection, remote_id: str, with_accounts: bool = False
) -> LiveRecord:
    """Fetch the provider's record (and, for editing at Snappy, the company's accounts).

    Never raises for a provider failure: the pages show the mirror's copy with a notice.
    """
    label = provider_label(connection)
    try:
        client = recipient_client(connection)
    except (CredentialsMissing, BaseURLRefused) as exc:
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
    except (CredentialsMissing, BaseURLRefused) as exc:
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
