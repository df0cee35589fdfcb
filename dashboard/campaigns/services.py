"""Test sends: preview the exact trigger, send it once, record and audit it; the allowlist."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard.audit.services import audit_record
from dashboard.campaigns.models import (
    CHANNEL_ADDRESS_FIELD,
    AllowlistEntry,
    Channel,
    Outcome,
    RememberedCampaign,
    TestSend,
)
from dashboard.campaigns.validation import mask_address
from integrations.clients import CampaignClient
from integrations.clients.errors import (
    Forbidden,
    Invalid,
    NotFound,
    ProviderError,
    ProviderTimeout,
    Unauthorized,
)
from integrations.clients.parcelvoy import CAMPAIGN_NOT_FOUND
from integrations.connection import connection_campaign_client
from integrations.models import Connection

# Form fields a provider's 422 can name (its message says ``'phone'`` or ``/user/phone``).
REPLY_FIELDS = frozenset(
    {"external_id", "email", "phone", "device_token", "timezone", "locale", "event"}
)
STATUS_WORDS = {200: "200 OK", 204: "204 No Content"}


class TestSendRefused(Exception):
    """Nothing was sent; the message says why, for the admin."""

    __test__ = False


class RateLimitExceeded(TestSendRefused):
    pass


class ConfirmationNeeded(TestSendRefused):
    pass


@dataclass(frozen=True)
class TestSendData:
    """What the form validated: one trigger of one campaign for one person."""

    __test__ = False

    connection: Connection
    campaign_id: int
    campaign_label: str
    channel: Channel
    external_id: str
    address: str
    timezone: str = ""
    locale: str = ""
    event: dict[str, Any] = field(default_factory=dict)
    event_text: str = ""

    @property
    def address_masked(self) -> str:
        return mask_address(self.address)

    def user(self) -> dict[str, str]:
        """The ``user`` object: the channel's address only, so the preview is what is sent."""
        user = {"external_id": self.external_id, CHANNEL_ADDRESS_FIELD[self.channel]: self.address}
        if self.timezone:
            user["timezone"] = self.timezone
        if self.locale:
            user["locale"] = self.locale
        return user

    def body(self) -> dict[str, Any]:
        # CONTRACT-NOTES: the server requires ``event`` although the document says optional.
        return {"user": self.user(), "event": self.event}


@dataclass(frozen=True)
class Preview:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body_text: str
    digest: str
    allowlisted: bool
    address: str
    address_masked: str
    channel_label: str


@dataclass(frozen=True)
class SendResult:
    test_send: TestSend
    duplicate: bool = False


def test_send_digest(data: TestSendData) -> str:
    """Identify the previewed request, so Send refuses a form changed after its preview."""
    canonical = json.dumps(
        [data.connection.pk, data.campaign_id, data.body()], sort_keys=True, ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def address_allowlisted(*, connection: Connection, address: str) -> bool:
    """Is ``address`` (or, for an email, its ``@domain``) on the connection's test list?"""
    candidates = {address, address.lower()}
    if "@" in address:
        candidates.add("@" + address.rpartition("@")[2].lower())
    return AllowlistEntry.objects.filter(connection=connection, value__in=candidates).exists()


def test_send_preview(*, data: TestSendData) -> Preview:
    connection = data.connection
    hint = connection.secret_hint or "????"
    return Preview(
        method="POST",
        url=connection.base_url.rstrip("/") + CampaignClient.trigger_path(data.campaign_id),
        headers=[
            # The secret is never shown: its prefix and last four characters only.
            ("Authorization", f"Bearer sk_••••{hint}"),
            ("Content-Type", "application/json"),
        ],
        body_text=json.dumps(data.body(), indent=2, ensure_ascii=False),
        digest=test_send_digest(data),
        allowlisted=address_allowlisted(connection=connection, address=data.address),
        address=data.address,
        address_masked=data.address_masked,
        channel_label={Channel.SMS: "SMS"}.get(data.channel, data.channel.label.lower()),
    )


def test_send_perform(
    *, data: TestSendData, request_id: uuid.UUID, user: Any, confirmed_outside: bool
) -> SendResult:
    """Send one trigger through the campaign client, once per ``request_id``.

    A repeated ``request_id`` (a double click, a resubmitted page) returns the first send's
    record and sends nothing. Refused with ``ConfirmationNeeded`` outside the allowlist unless
    confirmed, and with ``RateLimitExceeded`` past the per-user limit; neither sends anything.
    """
    existing = TestSend.objects.filter(request_id=request_id).first()
    if existing is not None:
        return SendResult(existing, duplicate=True)
    connection = data.connection
    outside = not address_allowlisted(connection=connection, address=data.address)
    if outside and not confirmed_outside:
        raise ConfirmationNeeded(
            f"{data.address} is not on this connection's test list: confirm to send anyway."
        )
    try:
        with transaction.atomic():
            # Serialise one user's sends so two tabs cannot both pass the limit.
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            limit = settings.TEST_SEND_RATE_LIMIT_PER_MINUTE
            since = timezone.now() - timedelta(minutes=1)
            recent = TestSend.objects.filter(user=user, created_at__gte=since).count()
            if recent >= limit:
                raise RateLimitExceeded(
                    f"You have sent {recent} tests in the last minute; the limit is {limit} a "
                    "minute. Nothing was sent: wait a moment and press Send again."
                )
            test_send = TestSend.objects.create(
                request_id=request_id,
                user=user,
                user_name=user.get_username(),
                connection=connection,
                connection_name=connection.name,
                environment=connection.environment,
                campaign_id=data.campaign_id,
                campaign_label=_remember_campaign(data),
                channel=data.channel,
                address_masked=data.address_masked,
                external_id=data.external_id,
                email_lower=data.address.lower() if data.channel == Channel.EMAIL else "",
                timezone=data.timezone,
                locale=data.locale,
                outside_allowlist=outside,
            )
    except IntegrityError:
        # Another request with the same form id won the insert: that one sends.
        return SendResult(TestSend.objects.get(request_id=request_id), duplicate=True)

    _trigger(test_send, data)
    audit_record(
        actor=user,
        action="campaign.test_sent",
        target=test_send,
        summary=(
            f"Test {test_send.get_channel_display()} of campaign {test_send.campaign_display} "
            f"to {test_send.address_masked}: {test_send.get_outcome_display()}"
        ),
        changes={
            key: {"before": None, "after": value}
            for key, value in {
                "connection": connection.name,
                "campaign": test_send.campaign_display,
                "channel": test_send.get_channel_display(),
                "address": test_send.address_masked,
                "outside_test_list": outside,
                "outcome": test_send.get_outcome_display(),
                "http_status": test_send.http_status,
            }.items()
        },
    )
    return SendResult(test_send)


def _remember_campaign(data: TestSendData) -> str:
    """Keep the campaign's label, channel and event for the next test; return the label."""
    remembered, _ = RememberedCampaign.objects.get_or_create(
        connection=data.connection, campaign_id=data.campaign_id
    )
    if data.campaign_label:
        remembered.label = data.campaign_label
    remembered.channel = data.channel
    remembered.event_json = data.event_text
    remembered.last_used_at = timezone.now()
    remembered.save()
    return remembered.label


def _trigger(test_send: TestSend, data: TestSendData) -> None:
    client = None
    try:
        client = connection_campaign_client(data.connection, **settings.TEST_SEND_CLIENT_OPTIONS)
        with client:
            result = client.trigger(data.campaign_id, user=data.user(), event=data.event)
    except ProviderError as exc:
        outcome, message, reply_field = _describe_error(exc, data)
        test_send.outcome = outcome
        test_send.http_status = exc.status
        test_send.reply_message = message[:500]
        test_send.reply_field = reply_field
        last = getattr(client, "last_call", None)
        test_send.latency_ms = round(last.latency * 1000) if last else None
    else:
        test_send.outcome = Outcome.SENT
        test_send.http_status = result.status
        words = STATUS_WORDS.get(result.status, str(result.status))
        test_send.reply_message = f"Parcelvoy accepted the trigger (HTTP {words})."
        test_send.latency_ms = round(result.latency * 1000)
    test_send.finished_at = timezone.now()
    test_send.save()


def _describe_error(exc: ProviderError, data: TestSendData) -> tuple[str, str, str]:
    """Outcome, plain-words message and the form field the reply concerns."""
    if isinstance(exc, Unauthorized):  # includes UnknownApiKey (404 code 6000)
        return (
            Outcome.BAD_CREDENTIALS,
            f"{exc.message} Nothing was sent: check the secret key on the connection's page.",
            "",
        )
    if isinstance(exc, Forbidden):
        return Outcome.FORBIDDEN, f"{exc.message} Nothing was sent.", ""
    if isinstance(exc, NotFound) and exc.code == CAMPAIGN_NOT_FOUND:
        return (
            Outcome.UNKNOWN_CAMPAIGN,
            f"Parcelvoy has no campaign {data.campaign_id} in this project (HTTP 404). "
            "Check the number in the campaign's address.",
            "campaign_id",
        )
    if isinstance(exc, Invalid):
        names = [key.rpartition(".")[2] for key in exc.field_errors]
        reply_field = next((name for name in names if name in REPLY_FIELDS), "")
        if exc.status is None:  # refused by the client before sending
            return Outcome.REFUSED, exc.message, reply_field
        return Outcome.REFUSED, f"{exc.message} (HTTP {exc.status}). Nothing was sent.", reply_field
    if isinstance(exc, ProviderTimeout):
        if exc.outcome_unknown:
            return (
                Outcome.TIMEOUT,
                f"{exc.message} The message may still have been sent: check the inbox or "
                "phone before sending again.",
                "",
            )
        return Outcome.TIMEOUT, f"{exc.message} Nothing was sent.", ""
    return Outcome.ERROR, exc.message, ""


def allowlist_add(*, connection: Connection, value: str, note: str, user: Any) -> AllowlistEntry:
    entry, created = AllowlistEntry.objects.get_or_create(
        connection=connection, value=value, defaults={"note": note, "created_by": user}
    )
    shown = value if entry.is_domain else mask_address(value)
    if created:
        audit_record(
            actor=user,
            action="campaign.allowlist_added",
            target=connection,
            summary=f"Added {shown} to the test list",
            changes={
                "test_list": {
                    "before": None,
                    "after": shown,
                }
            },
        )
    return entry


def allowlist_remove(*, entry: AllowlistEntry, user: Any) -> None:
    shown = entry.value if entry.is_domain else mask_address(entry.value)
    audit_record(
        actor=user,
        action="campaign.allowlist_removed",
        target=entry.connection,
        summary=f"Removed {shown} from the test list",
        changes={"test_list": {"before": shown, "after": None}},
    )
    entry.delete()
