"""Reads for the test-send pages and for the recipient page's list of a person's test sends."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from dashboard.campaigns.models import AllowlistEntry, RememberedCampaign, TestSend
from integrations.catalogue import Provider
from integrations.models import Connection, MirroredRecipient
from integrations.sync.mirror import fold

PEOPLE_LIMIT = 8
QUERY_MAX_LENGTH = 200


def test_send_list(
    *, connection_id: int | None = None, channel: str = "", outcome: str = ""
) -> QuerySet[TestSend]:
    sends = TestSend.objects.select_related("connection")
    if connection_id:
        sends = sends.filter(connection_id=connection_id)
    if channel:
        sends = sends.filter(channel=channel)
    if outcome:
        sends = sends.filter(outcome=outcome)
    return sends


def test_sends_for_recipient(*, email: str, external_id: str) -> QuerySet[TestSend]:
    """A person's test sends, matched by email (any case) or external id, newest first."""
    match = Q()
    if email.strip():
        match |= Q(email_lower=email.strip().lower())
    if external_id.strip():
        match |= Q(external_id=external_id.strip())
    if not match:
        return TestSend.objects.none()
    return TestSend.objects.filter(match).select_related("connection")


def remembered_campaigns(*, connections: QuerySet[Connection]) -> list[dict[str, Any]]:
    """Per connection, the campaigns used before: for the id list and to refill the form."""
    rows = RememberedCampaign.objects.filter(connection__in=connections).order_by("-last_used_at")[
        :200
    ]
    return [
        {
            "connection": row.connection_id,
            "id": row.campaign_id,
            "label": row.label,
            "channel": row.channel,
            "event": row.event_json,
        }
        for row in rows
    ]


def default_timezone(*, user: Any) -> str:
    """The admin's own zone: the one their last test used, else the site's."""
    last = (
        TestSend.objects.filter(user=user)
        .exclude(timezone="")
        .values_list("timezone", flat=True)
        .first()
    )
    return last or settings.TIME_ZONE


def allowlist_entries(*, connection: Connection) -> QuerySet[AllowlistEntry]:
    return AllowlistEntry.objects.filter(connection=connection).select_related("created_by")


def people_search(*, query: str) -> list[MirroredRecipient]:
    """People in every connection's mirror whose email starts with, or name contains, ``query``."""
    query = " ".join(query.split())[:QUERY_MAX_LENGTH]
    if len(query) < 2:
        return []
    lowered = query.lower()
    match = Q(email_lower__startswith=lowered) | Q(external_id__startswith=query)
    words = fold(query).split()
    if words:
        names = Q()
        for word in words:
            names &= Q(name_search__contains=word)
        match |= names
    return list(
        MirroredRecipient.objects.filter(
            match,
            gone_at__isnull=True,
            connection__is_active=True,
            connection__provider__in=[Provider.REDFLAG.value, Provider.SNAPPY.value],
        )
        .select_related("connection")
        .order_by("last_name", "first_name", "id")[:PEOPLE_LIMIT]
    )
