"""Executing sync jobs: claim items, call the provider, record outcomes in batches.

Invariants:
- The database is the truth. An item is claimed (``in_flight``, ``claimed_by``) in the same
  transaction that selects it, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
  executions (on several workers) share a job and no item is claimed twice.
- Outcomes are committed in batches: one transaction per batch of finished items, the job's
  counters updated once per batch, the mirror upserted once per batch. Until its batch
  commits an item stays ``in_flight``: a worker that dies mid-batch loses nothing, the item
  is only checked (a create) or sent again (an update, a delete: idempotent). A succeeded
  item is never sent again.
- An outcome is never wrong. A create that may have reached the provider and could not be
  checked is ``unknown``, looked up again with backoff (``next_attempt_at``) until known:
  found is succeeded, not found is sent again. It is never reported failed. A transient
  failure (5xx, timeout, dropped connection, malformed reply, 429) is tried again in the
  run with exponential backoff and full jitter, up to ``SYNC_ITEM_MAX_ATTEMPTS`` attempts
  (a connection's ``options["sync_max_attempts"]`` overrides it); the job does not finish
  while items wait for their next attempt.
- A 409 on a create is resolved by looking the record up by every identifier: the same data
  is the success it is; different data fails the item with a reason that says so.
- A claim older than ``SYNC_CLAIM_TIMEOUT`` belonged to a worker that died: a create goes
  to ``unknown`` (checked before it is sent again), anything else back to pending.
- Only this module's main thread touches the database; provider calls run in a thread pool.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, F, Min, Q
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce, Greatest, Now
from django.utils import timezone
from django.utils.module_loading import import_string

from integrations import logcontext
from integrations.clients import Recipient
from integrations.clients.errors import (
    AmbiguousMatch,
    Conflict,
    CredentialsMissing,
    Forbidden,
    NotFound,
    ProviderError,
    RateLimited,
    Unauthorized,
)
from integrations.connection import (
    BaseURLRefused,
    connection_client,
)
from integrations.models import (
    FINISHED_STATUSES,
    ItemStatus,
    JobKind,
    JobStatus,
    Operation,
    Outcome,
    SyncItem,
    SyncJob,
)
from integrations.sync.itemwrite import items_set_remote_ids
from integrations.sync.mirror import mirror_mark_gone, mirror_upsert

logger = logging.getLogger(__name__)

# Errors that stop the whole job with one reason instead of failing every item alike.
JOB_STOPPING_ERRORS = (Unauthorized, Forbidden, CredentialsMissing, BaseURLRefused)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def worker_name() -> str:
    """Who claims items: the Celery worker's name (else the host), its process and thread."""
    worker = logcontext.current().get("worker") or socket.gethostname()
    return f"{worker}:{os.getpid()}:{threading.get_ident()}"


# -- outcomes -------------------------------------------------------------------------------
# What a call's result asks of its item (ItemResult.status).
SUCCEEDED, FAILED, UNKNOWN, AGAIN, RELEASED = "succeeded", "failed", "unknown", "again", "released"


@dataclass
class ItemResult:
    item_id: int
    # succeeded, failed; unknown (check again later); again (a transient failure: try again
    # later, until the attempts run out); released (not sent: back to pending now).
    status: str
    outcome: str = ""
    remote_id: str = ""
    http_status: int | None = None
    error_code: str = ""
    error_message: str = ""
    recipient: Recipient | None = None
    gone: bool = False
    stop_error: ProviderError | None = None
    retry_after: float | None = None
    started_at: Any = None
    # An unknown outcome that no lookup can settle (no email or external id to look for).
    settled: bool = False


def _describe(error: ProviderError) -> tuple[str, str]:
    code = type(error).__name__
    if error.code not in (None, ""):
        code = f"{code}:{error.code}"
    message = error.message
    field_errors = getattr(error, "field_errors", None)
    if field_errors:
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in field_errors.items())
        message = f"{message} ({details})"
    return code[:60], message[:1000]


def backoff_delay(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))).

    ``jitter`` is a draw in [0, 1). Full jitter spreads the retries of many items that failed
    together (a provider's hiccup) instead of sending them back all at once.
    """
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return jitter * ceiling


# -- comparing a found record with what an item sends ----------------------------------------
def _same_value(sent: Any, stored: Any) -> bool:
    """Compare one sent value with the provider's, as the provider stores it.

    Objects compare by the keys sent (the provider adds its own); emails case-insensitively;
    a date sent as ``YYYY-MM-DD`` equals a stored timestamp of that day; numbers equal their
    text; an empty value equals a missing one.
    """
    if sent in (None, "", [], {}) and stored in (None, "", [], {}):
        return True
    if isinstance(sent, Mapping):
        return isinstance(stored, Mapping) and all(
            _same_value(value, stored.get(key)) for key, value in sent.items()
        )
    if isinstance(sent, list | tuple):
        if not isinstance(stored, list | tuple) or len(sent) != len(stored):
            return False
        if all(_same_value(a, b) for a, b in zip(sent, stored, strict=True)):
            return True
        remaining = list(stored)  # the same elements in another order
        for value in sent:
            match = next(
                (i for i, other in enumerate(remaining) if _same_value(value, other)), None
            )
            if match is None:
                return False
            remaining.pop(match)
        return True
    if isinstance(sent, bool) or isinstance(stored, bool):
        return sent == stored
    left, right = str(sent).strip(), "" if stored is None else str(stored).strip()
    if left.casefold() == right.casefold() and "@" in left:
        return True
    if left == right:
        return True
    # A date sent as YYYY-MM-DD and the provider's timestamp of that day.
    return len(left) == 10 and right.startswith(left + "T")


def payload_differences(payload: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    """Name each sent field whose value differs at the provider, with both values."""
    differences = []
    for key, value in payload.items():
        stored = record.get(key)
        if not _same_value(value, stored):
            differences.append(f"{key} (provider: {_short(stored)}, sent: {_short(value)})")
    return differences


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if value is not None else "none"
    return text if len(text) <= 60 else text[:57] + "…"


# -- one item -------------------------------------------------------------------------------
class PushContext:
    """What the worker threads share for one execution of a job."""

    def __init__(self, client: Any, provider: str) -> None:
        self.client = client
        self.provider = provider
        self.stop = threading.Event()
        self._pause_until = 0.0
        self._lock = threading.Lock()
        finder = getattr(client, "find_recipient", None)
        self.find_by_phone = finder is not None and "phone" in inspect.signature(finder).parameters

    def slow_down(self, seconds: float) -> None:
        """A 429 slows every call of the job, not just the one that got it."""
        with self._lock:
            self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    def wait_turn(self) -> None:
        while True:
            with self._lock:
                remaining = self._pause_until - time.monotonic()
            if remaining <= 0 or self.stop.is_set():
                return
            time.sleep(min(remaining, 0.5))


def lookup_keys(item: SyncItem, *, provider: str, by_phone: bool = False) -> dict[str, str]:
    """Every identifier the provider can find the item's record by (empty: none)."""
    payload = item.payload or {}
    keys: dict[str, str] = {}
    if item.remote_id:
        keys["remote_id"] = item.remote_id
    email = payload.get("email") or (item.identifier if "@" in item.identifier else "")
    if isinstance(email, str) and email.strip():
        keys["email"] = email.strip()
    if provider == "snappy":
        external_id = payload.get("externalId")
        if external_id in (None, "") and item.identifier and "@" not in item.identifier:
            external_id = item.identifier
        if external_id not in (None, ""):
            keys["external_id"] = str(external_id)
        phone = payload.get("mobilePhone")
        if by_phone and isinstance(phone, str) and phone.strip():
            keys["phone"] = phone.strip()
    return keys


def _lookup_keys(ctx: PushContext, item: SyncItem) -> dict[str, str]:
    return lookup_keys(item, provider=ctx.provider, by_phone=ctx.find_by_phone)


def _find_remote(ctx: PushContext, item: SyncItem) -> Recipient | None:
    """Look the item's record up at the provider by every identifier it has.

    RedFlag finds a recipient by ``_id`` or email; Snappy by id, or through its list filters
    by email, external id (and phone where the client offers it).
    """
    client = ctx.client
    keys = _lookup_keys(ctx, item)
    if ctx.provider == "redflag":
        for key in ("remote_id", "email"):
            if key in keys:
                try:
                    found: Recipient | None = client.get_recipient(keys[key])
                except NotFound:
                    continue
                if found is not None and (key == "remote_id" or found.matches_email(keys[key])):
                    return found
        return None
    if "remote_id" in keys:
        try:
            found = client.get_recipient(keys["remote_id"])
        except NotFound:
            found = None
        if found is not None:
            return found
    search = {name: keys[name] for name in ("email", "external_id", "phone") if name in keys}
    if not search:
        return None
    result: Recipient | None = client.find_recipient(**search)
    return result


def _result(item: SyncItem, status: str, started: Any, **fields: Any) -> ItemResult:
    fields.setdefault("remote_id", item.remote_id)
    return ItemResult(item.pk, status, started_at=started, **fields)


def _unknown(item: SyncItem, error: ProviderError, started: Any, *, checking: bool) -> ItemResult:
    code, message = _describe(error)
    what = "The check that it exists failed" if checking else "The reply was lost"
    return _result(
        item,
        UNKNOWN,
        started,
        http_status=error.status,
        error_code=code,
        error_message=(
            f"Outcome unknown: the provider may have created this record. {what} ({message}); "
            "it is looked up again before anything is sent."
        )[:1000],
        retry_after=getattr(error, "retry_after", None),
    )


def _ambiguous(item: SyncItem, error: AmbiguousMatch, started: Any) -> ItemResult:
    """Several provider records carry the item's identifiers: one may be the item's. Nothing
    is sent and nothing is guessed; the item waits for a person (a settled unknown)."""
    ids = ", ".join(error.candidates[:5]) or "not given"
    return _result(
        item,
        UNKNOWN,
        started,
        settled=True,
        http_status=error.status,
        error_code="AmbiguousMatch",
        error_message=(
            f"Outcome unknown: several records at the provider carry this item's identifiers "
            f"(ids {ids}); none was chosen and nothing more is sent. Check them at the provider."
        )[:1000],
    )


def _matched(item: SyncItem, found: Recipient, started: Any, *, conflict: bool) -> ItemResult:
    """The provider holds a record with the item's identifiers: it is the item's if every field
    sent holds the value sent; otherwise the item fails, saying what differs."""
    differences = payload_differences(item.payload or {}, found.raw or {})
    if differences:
        return _result(
            item,
            FAILED,
            started,
            http_status=409 if conflict else None,
            error_code="Conflict:different_data",
            error_message=(
                "Already exists at the provider with different data: " + "; ".join(differences)
            )[:1000],
            remote_id=found.remote_id,
        )
    if conflict:
        return _result(
            item,
            SUCCEEDED,
            started,
            outcome=Outcome.UNCHANGED,
            remote_id=found.remote_id,
            recipient=found,
            http_status=409,
            error_message="Already at the provider with the same data.",
        )
    return _result(
        item,
        SUCCEEDED,
        started,
        outcome=Outcome.CREATED,
        remote_id=found.remote_id,
        recipient=found,
        error_message="Found at the provider after an interrupted attempt.",
    )


def _resolve_conflict(
    ctx: PushContext, item: SyncItem, error: Conflict, started: Any
) -> ItemResult:
    """A 409 on a create: the provider holds a record with the same identifiers. Look at it."""
    try:
        found = _find_remote(ctx, item)
    except JOB_STOPPING_ERRORS:
        raise
    except AmbiguousMatch as exc:
        return _ambiguous(item, exc, started)
    except ProviderError as exc:
        # The provider holds a record that may be this one: unknown until it is looked at.
        return _unknown(item, exc, started, checking=True)
    if found is None:
        code, message = _describe(error)
        return _result(
            item,
            FAILED,
            started,
            http_status=409,
            error_code=code,
            error_message=(
                f"{message} No record with this email or external id was found to compare."
            )[:1000],
        )
    return _matched(item, found, started, conflict=True)


def _send_create(ctx: PushContext, item: SyncItem, started: Any) -> ItemResult:
    if item.needs_check or item.status == ItemStatus.UNKNOWN:
        if not _lookup_keys(ctx, item):
            return _result(
                item,
                UNKNOWN,
                started,
                settled=True,
                error_message=(
                    "Outcome unknown: the provider may have created this record, and it has no "
                    "email or external id to look it up by. Check at the provider before "
                    "sending it again."
                ),
            )
        try:
            found = _find_remote(ctx, item)
        except JOB_STOPPING_ERRORS:
            raise
        except AmbiguousMatch as exc:
            return _ambiguous(item, exc, started)
        except ProviderError as exc:
            return _unknown(item, exc, started, checking=True)
        if found is not None:
            return _matched(item, found, started, conflict=False)
    try:
        created = ctx.client.create_recipient(item.payload)
    except Conflict as exc:
        return _resolve_conflict(ctx, item, exc, started)
    except JOB_STOPPING_ERRORS:
        raise
    except ProviderError as exc:
        if exc.outcome_unknown or exc.after_unknown_outcome:
            if not _lookup_keys(ctx, item):
                code, message = _describe(exc)
                return _result(
                    item,
                    UNKNOWN,
                    started,
                    settled=True,
                    http_status=exc.status,
                    error_code=code,
                    error_message=(
                        f"Outcome unknown: {message} The provider may have created this "
                        "record, and it has no email or external id to look it up by. Check at "
                        "the provider before sending it again."
                    )[:1000],
                )
            return _unknown(item, exc, started, checking=False)
        raise
    return _result(
        item,
        SUCCEEDED,
        started,
        outcome=Outcome.CREATED,
        remote_id=created.remote_id,
        recipient=created,
    )


def _call(ctx: PushContext, item: SyncItem) -> ItemResult:
    """Send one item (in a pool thread; no database access here)."""
    started = timezone.now()
    if ctx.stop.is_set():
        return _result(item, RELEASED, started)
    ctx.wait_turn()
    client = ctx.client
    op = item.operation
    try:
        if op == Operation.CREATE:
            return _send_create(ctx, item, started)
        if op == Operation.UPDATE:
            target = item.remote_id
            if ctx.provider == "snappy" and not target:
                found = _find_remote(ctx, item)
                if found is None:
                    raise NotFound(
                        "The recipient no longer exists at the provider.",
                        provider=ctx.provider,
                        status=404,
                    )
                target = found.remote_id
            updated = client.update_recipient(target or item.identifier, item.payload)
            return _result(
                item,
                SUCCEEDED,
                started,
                outcome=Outcome.UPDATED,
                remote_id=updated.remote_id,
                recipient=updated,
            )
        if op == Operation.DELETE:
            target = item.remote_id or item.identifier
            try:
                client.delete_recipient(target)
            except NotFound:
                return _result(
                    item,
                    SUCCEEDED,
                    started,
                    outcome=Outcome.DELETED,
                    http_status=404,
                    error_message="Already gone at the provider.",
                    gone=True,
                )
            return _result(item, SUCCEEDED, started, outcome=Outcome.DELETED, gone=True)
        return _result(
            item,
            FAILED,
            started,
            error_code="UnknownOperation",
            error_message=f"Unknown operation {op!r}.",
        )
    except JOB_STOPPING_ERRORS as exc:
        ctx.stop.set()
        return _result(item, RELEASED, started, stop_error=exc, http_status=exc.status)
    except RateLimited as exc:
        ctx.slow_down(5.0 if exc.retry_after is None else exc.retry_after)
        code, message = _describe(exc)
        return _result(
            item,
            AGAIN,
            started,
            http_status=429,
            error_code=code,
            error_message=message,
            retry_after=exc.retry_after,
        )
    except ProviderError as exc:
        code, message = _describe(exc)
        # A 5xx, a timeout, a dropped connection or a garbled reply may pass next time; an
        # update or delete that may have acted is safe to repeat (both are idempotent).
        transient = exc.retryable or exc.outcome_unknown or (exc.status or 0) >= 500
        if op in (Operation.UPDATE, Operation.DELETE) and (
            exc.outcome_unknown or exc.after_unknown_outcome
        ):
            # If the attempts run out, the item ends failed: say it may have been applied.
            message = (
                f"{message} It may have been applied at the provider; sending it again is safe."
            )[:1000]
        return _result(
            item,
            AGAIN if transient else FAILED,
            started,
            http_status=exc.status,
            error_code=code,
            error_message=message,
        )
    except Exception:  # a bug of ours must fail the item, never lose it
        logger.exception("Unexpected error sending item %s of job %s", item.pk, item.job_id)
        return _result(
            item,
            FAILED,
            started,
            error_code="InternalError",
            error_message="Unexpected error in the sync engine (logged).",
        )


# -- recording ------------------------------------------------------------------------------
OUTCOME_COUNTER: dict[str, str] = {
    Outcome.CREATED: "n_created",
    Outcome.UPDATED: "n_updated",
    Outcome.DELETED: "n_deleted",
    Outcome.UNCHANGED: "n_unchanged",
}
# Fields a batch records that most items of a batch share (one UPDATE per distinct set), and
# those that differ item by item (one bulk UPDATE each, for the items that have them).
SHARED_FIELDS = (
    "status",
    "outcome",
    "http_status",
    "error_code",
    "error_message",
    "finished_at",
    "needs_check",
    "claimed_by",
    "claimed_at",
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a job tries an item again (settings, per connection)."""

    max_attempts: int
    base: float
    cap: float

    @classmethod
    def for_connection(cls, connection: Any) -> RetryPolicy:
        options = getattr(connection, "options", None) or {}
        max_attempts = options.get("sync_max_attempts") or _setting("SYNC_ITEM_MAX_ATTEMPTS", 8)
        return cls(
            max_attempts=max(1, int(max_attempts)),
            base=float(_setting("SYNC_RETRY_BACKOFF_BASE", 1.0)),
            cap=float(_setting("SYNC_RETRY_BACKOFF_CAP", 60.0)),
        )

    def next_attempt(self, attempts: int, now: datetime, retry_after: float | None) -> datetime:
        delay = backoff_delay(attempts, base=self.base, cap=self.cap, jitter=random.random())
        if retry_after:
            delay = max(delay, retry_after)
        return now + timedelta(seconds=delay)


def _apply(item: SyncItem, result: ItemResult, policy: RetryPolicy, now: datetime) -> str:
    """Set the item's recorded fields from the result; return its new status.

    A finished item keeps ``claimed_by`` (which worker sent it); one going back is released.
    """
    item.http_status = result.http_status
    item.error_code = result.error_code
    item.error_message = result.error_message
    item.remote_id = (result.remote_id or item.remote_id)[:100]
    item.next_attempt_at = None
    status = result.status
    if status == AGAIN and item.attempts >= policy.max_attempts:
        status = FAILED
        item.error_message = (f"Gave up after {item.attempts} attempts: {result.error_message}")[
            :1000
        ]
    if status in (SUCCEEDED, FAILED):
        item.status, item.outcome = status, result.outcome
        item.finished_at, item.needs_check = now, False
        return item.status
    item.claimed_by, item.claimed_at = "", None
    if status == UNKNOWN:
        item.status, item.needs_check = ItemStatus.UNKNOWN, True
        if not result.settled:
            item.next_attempt_at = policy.next_attempt(item.attempts, now, result.retry_after)
    elif status == AGAIN:
        item.status = ItemStatus.PENDING
        item.next_attempt_at = policy.next_attempt(item.attempts, now, result.retry_after)
    elif getattr(item, "claimed_from", "") == ItemStatus.UNKNOWN:  # released, still unknown
        item.status, item.next_attempt_at = ItemStatus.UNKNOWN, now
    else:  # released: not sent, back to pending
        item.status = ItemStatus.PENDING
        if result.stop_error is None:
            item.error_code = item.error_message = ""
    return item.status


def _record_batch(
    job: SyncJob,
    pairs: list[tuple[SyncItem, ItemResult]],
    worker: str,
    connection: Any,
    policy: RetryPolicy,
) -> None:
    """Commit a batch of outcomes, the job's counters and the mirror in one transaction.

    Only items still claimed by this execution are recorded: a claim taken over (this worker
    was thought dead) is recorded by the execution that holds it now.
    """
    if not pairs:
        return
    now = timezone.now()
    with transaction.atomic():
        ids = [item.pk for item, _ in pairs]
        mine = set(
            SyncItem.objects.select_for_update()
            .filter(pk__in=ids, status=ItemStatus.IN_FLIGHT, claimed_by=worker)
            .values_list("pk", flat=True)
        )
        changed: list[SyncItem] = []
        new_remote_ids: list[SyncItem] = []
        counts: Counter[str] = Counter()
        recipients: list[Recipient] = []
        gone: list[str] = []
        for item, result in pairs:
            if item.pk not in mine:
                logger.warning("Lost the claim of item %s of job %s", item.pk, job.pk)
                continue
            remote_id = item.remote_id
            status = _apply(item, result, policy, now)
            if item.remote_id != remote_id:
                new_remote_ids.append(item)
            changed.append(item)
            if status == ItemStatus.SUCCEEDED:
                counts["n_succeeded"] += 1
                if item.outcome in OUTCOME_COUNTER:
                    counts[OUTCOME_COUNTER[item.outcome]] += 1
                if result.recipient is not None:
                    recipients.append(result.recipient)
                elif result.gone and item.remote_id:
                    gone.append(item.remote_id)
            elif status == ItemStatus.FAILED:
                counts["n_failed"] += 1
            elif status == ItemStatus.UNKNOWN:
                counts["n_unknown"] += 1
        _write_items(changed, new_remote_ids)
        update: dict[str, datetime | Combinable] = {"heartbeat_at": now}
        for name, n in counts.items():
            update[name] = F(name) + n
        SyncJob.objects.filter(pk=job.pk).update(**update)
        if connection is not None:
            if recipients:
                mirror_upsert(connection, recipients)
            for remote_id in gone:
                mirror_mark_gone(connection, remote_id=remote_id)


def _write_items(changed: list[SyncItem], new_remote_ids: list[SyncItem]) -> None:
    """Write a batch's items in a few statements.

    The items of a batch mostly share their recorded values (succeeded, created, no error),
    so one ``UPDATE … WHERE id IN (…)`` per distinct set of shared values, then one bulk
    update of the values that differ item by item (remote ids: ``itemwrite``; next attempts)
    for the items that have them. ``bulk_update`` of every field at once compiled a CASE per
    field and row, which bounded the engine (``bench/sync_throughput.py``).
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for item in changed:
        key = tuple(getattr(item, name) for name in SHARED_FIELDS)
        groups.setdefault(key, []).append(item.pk)
    for key, pks in groups.items():
        SyncItem.objects.filter(pk__in=pks).update(**dict(zip(SHARED_FIELDS, key, strict=True)))
    items_set_remote_ids(new_remote_ids)
    waiting = [item for item in changed if item.next_attempt_at is not None]
    cleared = [item.pk for item in changed if item.next_attempt_at is None]
    if waiting:
        SyncItem.objects.bulk_update(waiting, ["next_attempt_at"])
    if cleared:
        SyncItem.objects.filter(pk__in=cleared, next_attempt_at__isnull=False).update(
            next_attempt_at=None
        )


# -- claiming -------------------------------------------------------------------------------
def _release_stale_claims(
    job: SyncJob, *, cutoff: datetime | None = None, claimed_by: str | None = None
) -> int:
    """Items claimed by a worker that died go back: a create to unknown (it is looked up before
    it is sent again), anything else to pending. ``cutoff=None`` uses SYNC_CLAIM_TIMEOUT;
    ``claimed_by`` releases, whatever their age, the claims of an execution known to be gone."""
    if cutoff is None:
        cutoff = timezone.now() - timedelta(seconds=_setting("SYNC_CLAIM_TIMEOUT", 300))
    if claimed_by:
        stale = job.items.filter(status=ItemStatus.IN_FLIGHT, claimed_by=claimed_by)
    else:
        stale = job.items.filter(status=ItemStatus.IN_FLIGHT, claimed_at__lt=cutoff)
    now = timezone.now()
    released = stale.filter(operation=Operation.CREATE).update(
        status=ItemStatus.UNKNOWN,
        claimed_by="",
        claimed_at=None,
        needs_check=True,
        next_attempt_at=now,
        error_message="Outcome unknown: the worker sending it stopped; it is looked up again.",
    )
    released += stale.update(
        status=ItemStatus.PENDING, claimed_by="", claimed_at=None, needs_check=True
    )
    if released:
        _recount_unknown(job)
    return released


def _recount_unknown(job: SyncJob) -> None:
    SyncJob.objects.filter(pk=job.pk).update(
        n_unknown=job.items.filter(status=ItemStatus.UNKNOWN).count()
    )


def _claim(job: SyncJob, worker: str, size: int) -> list[SyncItem]:
    """Claim up to ``size`` items that are due: first those waiting for a next attempt whose
    time has come (the partial index on ``next_attempt_at`` finds them), then fresh ones in
    file order (the ``(job, status, seq)`` index, read in order, no sort)."""
    lock = db_connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        waited = job.items.filter(
            status__in=[ItemStatus.PENDING, ItemStatus.UNKNOWN],
            next_attempt_at__lte=timezone.now(),
        ).order_by("next_attempt_at")
        fresh = job.items.filter(status=ItemStatus.PENDING, next_attempt_at__isnull=True).order_by(
            "seq"
        )
        if lock:
            waited = waited.select_for_update(skip_locked=True)
            fresh = fresh.select_for_update(skip_locked=True)
        items = list(waited[:size])
        if len(items) < size:
            items += list(fresh[: size - len(items)])
        if not items:
            return []
        now = timezone.now()
        SyncItem.objects.filter(pk__in=[i.pk for i in items]).update(
            status=ItemStatus.IN_FLIGHT,
            claimed_by=worker,
            claimed_at=now,
            started_at=now,
            attempts=F("attempts") + 1,
        )
        from_unknown = sum(1 for i in items if i.status == ItemStatus.UNKNOWN)
        if from_unknown:
            SyncJob.objects.filter(pk=job.pk).update(
                n_unknown=Greatest(F("n_unknown") - from_unknown, 0)
            )
    for item in items:
        item.claimed_from = item.status  # type: ignore[attr-defined]
        item.status, item.claimed_by, item.claimed_at = ItemStatus.IN_FLIGHT, worker, now
        item.attempts += 1
    return items


def _seconds_until_due(job: SyncJob) -> float | None:
    """Seconds until an item of the job may be claimed; None when none waits."""
    waiting = job.items.filter(
        Q(status=ItemStatus.PENDING) | Q(status=ItemStatus.UNKNOWN, next_attempt_at__isnull=False)
    )
    earliest = waiting.aggregate(at=Min(Coalesce("next_attempt_at", Now())))["at"]
    if earliest is None:
        return None
    return max((earliest - timezone.now()).total_seconds(), 0.0)


# -- job lifecycle --------------------------------------------------------------------------
def _begin(job_id: int) -> SyncJob | None:
    """Mark the job running, or return None when there is nothing to do."""
    stale = timezone.now() - timedelta(seconds=_setting("SYNC_STALE_AFTER", 120))
    with transaction.atomic():
        job = SyncJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINISHED_STATUSES:
            return None
        if job.pause_requested or job.status == JobStatus.PAUSED:
            return None
        if job.cancel_requested:
            transaction.on_commit(lambda: job_finish_if_done(job_id))
            return None
        joining = job.status == JobStatus.RUNNING and (
            job.heartbeat_at is not None and job.heartbeat_at >= stale
        )
        if not joining:
            # A (re)start: a poison job ends failed instead of looping through re-deliveries.
            if job.deliveries >= _setting("SYNC_MAX_DELIVERIES", 5):
                _fail(
                    job,
                    "too_many_deliveries",
                    f"Stopped after {job.deliveries} interrupted runs; retry the failed items "
                    "when the cause is fixed.",
                )
                return None
            job.deliveries += 1
            # The previous execution (if any) is gone: what it had in flight may or may not
            # have reached the provider, so a create is looked up before it is sent again.
            _release_stale_claims(job, cutoff=timezone.now() + timedelta(days=1))
        job.status = JobStatus.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["status", "started_at", "heartbeat_at", "deliveries"])
    return job


def _fail(job: SyncJob, code: str, message: str) -> None:
    """Stop the job with one reason; items not sent are marked as such (in the caller's txn)."""
    job.error_code = code[:40]
    job.error_message = message[:1000]
    job.save(update_fields=["error_code", "error_message"])
    transaction.on_commit(lambda: job_finish_if_done(job.pk, failing=True))


def job_execute(job_id: int, *, worker: str | None = None, gone: str | None = None) -> None:
    """Run a job until its items are done, it is cancelled or paused, or it cannot go on.

    ``gone`` names an earlier execution of this task that stopped mid-run (it lost the
    database): its claims are released at once instead of after ``SYNC_CLAIM_TIMEOUT``.
    """
    with logcontext.bound(job_id=job_id):
        job = _begin(job_id)
        if job is None:
            return
        if gone:
            _release_stale_claims(job, claimed_by=gone)
        with logcontext.bound(connection_id=job.connection_id):
            _execute(job, worker)


def _execute(job: SyncJob, worker: str | None) -> None:
    logger.info("Job %s (%s) running: %s items to do", job.pk, job.kind, job.n_pending)
    if job.kind == JobKind.PULL:
        from integrations.sync.pull import execute_pull

        execute_pull(job)
        return
    _execute_push(job, worker or worker_name())


def _execute_push(job: SyncJob, worker: str) -> None:
    connection = job.connection
    if connection is None:
        with transaction.atomic():
            _fail(job, "connection_deleted", "The connection was deleted; nothing was sent.")
        return
    try:
        client = connection_client(connection, **_setting("SYNC_CLIENT_OPTIONS", {}))
    except ProviderError as exc:
        with transaction.atomic():
            _fail(job, type(exc).__name__, exc.message)
        return
    concurrency = max(1, int(_setting("SYNC_CONCURRENCY", 8)))
    batch_size = max(1, int(_setting("SYNC_RECORD_BATCH", 200)))
    batch_seconds = float(_setting("SYNC_RECORD_SECONDS", 0.25))
    policy = RetryPolicy.for_connection(connection)
    ctx = PushContext(client, connection.provider)
    in_flight: dict[Future[ItemResult], SyncItem] = {}
    finished: list[tuple[SyncItem, ItemResult]] = []
    first_finished = 0.0
    stop_error: ProviderError | None = None

    def flush() -> None:
        nonlocal finished
        if finished:
            _record_batch(job, finished, worker, connection, policy)
            finished = []

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sync") as pool:
            _release_stale_claims(job)
            last_check = 0.0
            while True:
                if time.monotonic() - last_check > 1.0:
                    last_check = time.monotonic()
                    flags = (
                        SyncJob.objects.filter(pk=job.pk)
                        .values("cancel_requested", "pause_requested", "status")
                        .first()
                    )
                    if (
                        flags is None
                        or flags["status"] in FINISHED_STATUSES
                        or flags["cancel_requested"]
                        or flags["pause_requested"]
                    ):
                        ctx.stop.set()
                    SyncJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
                # Up to four rounds of calls claimed ahead, two at a time: a claim costs about
                # the same for 16 items as for 32.
                room = concurrency * 4 - len(in_flight)
                if not ctx.stop.is_set() and (room >= concurrency * 2 or not in_flight):
                    for item in _claim(job, worker, room):
                        in_flight[pool.submit(logcontext.in_context(_call), ctx, item)] = item
                if not in_flight:
                    flush()
                    if ctx.stop.is_set():
                        break
                    # Items wait for their next attempt (backoff) or for their check: the job
                    # is not done until they are.
                    wait_for = _seconds_until_due(job)
                    if wait_for is None:
                        break
                    time.sleep(min(max(wait_for, 0.02), 1.0))
                    continue
                done, _ = wait(list(in_flight), timeout=batch_seconds, return_when=FIRST_COMPLETED)
                for future in done:
                    item = in_flight.pop(future)
                    result = future.result()
                    if result.stop_error is not None and stop_error is None:
                        stop_error = result.stop_error
                    if not finished:
                        first_finished = time.monotonic()
                    finished.append((item, result))
                if finished and (
                    len(finished) >= batch_size
                    or time.monotonic() - first_finished >= batch_seconds
                    or not in_flight
                ):
                    flush()
    except SoftTimeLimitExceeded:
        # Out of time for this task: hand back what is not done and continue in a new task.
        ctx.stop.set()
        for future, item in in_flight.items():
            try:
                finished.append((item, future.result(timeout=60)))
            except Exception:
                logger.exception("Item %s of job %s was interrupted", item.pk, job.pk)
        flush()
        from integrations.tasks import run_sync_job

        run_sync_job.delay(job.pk)
        return
    finally:
        client.close()
    if stop_error is not None:
        code, message = _describe(stop_error)
        reason = {
            "Unauthorized": "The provider refused the credentials",
            "UnknownApiKey": "The provider does not know this key",
            "Forbidden": "The credentials are not allowed to do this",
        }.get(type(stop_error).__name__, "The job could not go on")
        with transaction.atomic():
            job.refresh_from_db()
            _fail(job, code, f"{reason}: {message} Nothing more was sent.")
        return
    job_finish_if_done(job.pk)


def job_finish_if_done(job_id: int, *, failing: bool = False) -> SyncJob | None:
    """Give the job its final status when no item is pending or in flight (idempotent).

    Cancelled, paused and failing jobs mark their pending items as not sent (cancel, fail) or
    leave them (pause). Counts are recomputed from the items, so they always add up.
    """
    finished = None
    with transaction.atomic():
        job = SyncJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in FINISHED_STATUSES:
            return job
        failing = failing or bool(job.error_code)
        counts = dict(
            job.items.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        )
        pending = counts.get(ItemStatus.PENDING, 0)
        in_flight = counts.get(ItemStatus.IN_FLIGHT, 0)
        if in_flight:
            return job  # another execution is still working; it finishes the job
        # Unknown outcomes still to be checked keep the job going, like pending items.
        checking = (
            job.items.filter(status=ItemStatus.UNKNOWN, next_attempt_at__isnull=False).exists()
            if counts.get(ItemStatus.UNKNOWN)
            else False
        )
        if (pending or checking) and job.pause_requested and not (job.cancel_requested or failing):
            job.status = JobStatus.PAUSED
            job.save(update_fields=["status"])
            return job
        stopping = job.cancel_requested or failing
        if not stopping and (pending or checking):
            return job  # items remain to be claimed by a running execution
        if pending:
            reason = (
                "Not sent: the job was cancelled."
                if job.cancel_requested and not failing
                else "Not sent: the job stopped. " + job.error_message
            )
            job.items.filter(status=ItemStatus.PENDING).update(
                status=ItemStatus.SKIPPED,
                error_message=reason[:1000],
                claimed_by="",
                next_attempt_at=None,
            )
        if checking:
            # Not checked any more in this job: they stay unknown (never "not sent", since
            # the provider may hold them); a retry looks them up.
            job.items.filter(status=ItemStatus.UNKNOWN).update(next_attempt_at=None)
        _recount(job)
        if failing:
            job.status = JobStatus.FAILED
        elif job.cancel_requested:
            job.status = JobStatus.CANCELLED
        elif job.n_failed and not job.n_succeeded:
            job.status = JobStatus.FAILED
            job.error_code = job.error_code or "all_failed"
            job.error_message = job.error_message or "Every item failed; see the items below."
        elif job.n_failed or job.n_skipped or job.n_unknown:
            job.status = JobStatus.PARTIALLY_FAILED
        else:
            job.status = JobStatus.SUCCEEDED
        job.finished_at = timezone.now()
        job.save()
        finished = job
        transaction.on_commit(lambda: _run_finished_hooks(job_id))
    with logcontext.bound(job_id=job_id, connection_id=finished.connection_id):
        logger.info(
            "Job %s %s: %s succeeded, %s failed, %s not sent, %s unknown of %s",
            job_id,
            finished.status,
            finished.n_succeeded,
            finished.n_failed,
            finished.n_skipped,
            finished.n_unknown,
            finished.total,
        )
    return finished


def _recount(job: SyncJob) -> None:
    agg = job.items.aggregate(
        total=Count("id"),
        succeeded=Count("id", filter=Q(status=ItemStatus.SUCCEEDED)),
        failed=Count("id", filter=Q(status=ItemStatus.FAILED)),
        skipped=Count("id", filter=Q(status=ItemStatus.SKIPPED)),
        unknown=Count("id", filter=Q(status=ItemStatus.UNKNOWN)),
        created=Count("id", filter=Q(outcome=Outcome.CREATED)),
        updated=Count("id", filter=Q(outcome=Outcome.UPDATED)),
        deleted=Count("id", filter=Q(outcome=Outcome.DELETED)),
        unchanged=Count("id", filter=Q(outcome=Outcome.UNCHANGED)),
    )
    job.total = agg["total"]
    job.n_succeeded, job.n_failed, job.n_skipped = (
        agg["succeeded"],
        agg["failed"],
        agg["skipped"],
    )
    job.n_unknown = agg["unknown"]
    job.n_created, job.n_updated = agg["created"], agg["updated"]
    job.n_deleted, job.n_unchanged = agg["deleted"], agg["unchanged"]


def _run_finished_hooks(job_id: int) -> None:
    for path in _setting("SYNC_JOB_FINISHED_HOOKS", []):
        try:
            hook: Callable[[int], None] = import_string(path)
            hook(job_id)
        except Exception:
            logger.exception("Job-finished hook %s failed for job %s", path, job_id)


# -- watchdog -------------------------------------------------------------------------------
def jobs_needing_a_worker() -> list[int]:
    """Running jobs whose worker stopped reporting, and queued jobs nobody picked up."""
    now = timezone.now()
    stale = now - timedelta(seconds=_setting("SYNC_STALE_AFTER", 120))
    lost = now - timedelta(seconds=_setting("SYNC_QUEUED_LOST_AFTER", 600))
    return list(
        SyncJob.objects.filter(
            Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
            | Q(status=JobStatus.QUEUED, created_at__lt=lost, pause_requested=False)
        ).values_list("pk", flat=True)
    )
