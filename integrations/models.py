"""Store provider connections, sync jobs and their items, and each connection's mirror.

A ``Connection`` is one provider account with its encrypted credential and its field
settings (``FieldSetting``); their tables keep the names they had in ``dashboard.connections``.

The database is the source of truth for job and item state: any worker on any machine may
pick up any item, and a crashed worker's job continues from what is recorded here.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from integrations.catalogue import Provider
from integrations.crypto import EncryptedSecretField


class Environment(models.TextChoices):
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class TestOutcome(models.TextChoices):
    OK = "ok", "Connected"
    BAD_CREDENTIALS = "bad_credentials", "Bad credentials"
    FORBIDDEN = "forbidden", "Not allowed"
    UNREACHABLE = "unreachable", "Unreachable"
    ERROR = "error", "Provider error"


PROVIDER_CHOICES = [(p.value, p.api_name) for p in Provider]


class Connection(models.Model):
    """A provider account. The secret is encrypted at rest and never rendered."""

    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20, choices=PROVIDER_CHOICES)
    environment = models.CharField(
        max_length=20, choices=Environment.choices, default=Environment.STAGING
    )
    base_url = models.CharField(max_length=500)
    # The one credential each provider needs: RedFlag bearer token, Snappy API key,
    # Parcelvoy secret key. See ``secret_hint`` for what may be shown.
    secret = EncryptedSecretField(null=True, blank=True)
    secret_hint = models.CharField(max_length=4, blank=True)
    secret_set_at = models.DateTimeField(null=True, blank=True)
    secret_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Provider extras: RedFlag location_id; Snappy company_id, request_source.
    options = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    # Refresh the recipient mirror every N minutes (None: only on demand).
    pull_interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    mirror_refreshed_at = models.DateTimeField(null=True, blank=True)
    # Snappy does not publish its update method (CONTRACT-NOTES): the one its server
    # accepted, learned by a client after a 405 and stored so every later client of this
    # connection sends it at once. Blank: not known yet.
    snappy_update_method = models.CharField(
        max_length=5, blank=True, choices=[("PATCH", "PATCH"), ("PUT", "PUT")]
    )

    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_outcome = models.CharField(max_length=20, choices=TestOutcome.choices, blank=True)
    last_test_message = models.CharField(max_length=500, blank=True)
    last_test_latency_ms = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The table keeps the name it had when the model lived in ``dashboard.connections``.
        db_table = "connections_connection"
        ordering = [Lower("name")]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="connection_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def provider_enum(self) -> Provider:
        return Provider(self.provider)

    @property
    def is_production(self) -> bool:
        return self.environment == Environment.PRODUCTION

    @property
    def secret_masked(self) -> str:
        return f"••••{self.secret_hint}" if self.secret is not None else "not set"

    @property
    def secret_readable(self) -> bool:
        return self.secret is not None and self.secret.readable

    @property
    def status(self) -> str:
        """One word for lists: disabled, unreadable, missing, untested, or the last outcome."""
        if not self.is_active:
            return "disabled"
        if self.secret is None:
            return "missing"
        if not self.secret_readable:
            return "unreadable"
        return self.last_test_outcome or "untested"


class FieldSetting(models.Model):
    """Whether one catalogue field (or custom field) of a connection may be synced.

    A catalogue field without a row uses its catalogue default; custom fields always have a row.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="fields")
    path = models.CharField(max_length=200)
    enabled = models.BooleanField(default=False)
    custom = models.BooleanField(default=False)
    label = models.CharField(max_length=120, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "connections_fieldsetting"
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "path"], name="field_setting_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.connection}: {self.path} ({'on' if self.enabled else 'off'})"


class JobKind(models.TextChoices):
    PUSH = "push", "Push records"
    PULL = "pull", "Refresh mirror"
    RETRY = "retry", "Retry failed items"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_FAILED = "partially_failed", "Partially failed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PAUSED)
FINISHED_STATUSES = (
    JobStatus.SUCCEEDED,
    JobStatus.PARTIALLY_FAILED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)


class JobSource(models.TextChoices):
    IMPORT = "import", "CSV import"
    PAGE = "page", "Dashboard"
    SCHEDULE = "schedule", "Schedule"
    COMMAND = "command", "Command line"
    RETRY = "retry", "Retry"


class Operation(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"
    # A create that may have reached the provider and could not be checked yet: looked up
    # again (``next_attempt_at``) until found (succeeded) or not found (sent again). Never
    # reported failed, since the provider may hold the record.
    UNKNOWN = "unknown", "Unknown: being checked"


class Outcome(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    DELETED = "deleted", "Deleted"
    UNCHANGED = "unchanged", "Already up to date"


class SyncJob(models.Model):
    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
    )
    # Kept so history still reads well after a connection is deleted.
    connection_name = models.CharField(max_length=100)
    provider = models.CharField(max_length=20)
    kind = models.CharField(max_length=10, choices=JobKind.choices)
    status = models.CharField(
        max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    source = models.CharField(max_length=10, choices=JobSource.choices, default=JobSource.PAGE)
    source_label = models.CharField(max_length=200, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_by_name = models.CharField(max_length=150, blank=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    # The first job of a family of retries (a retry of a retry points at the same one): the
    # database lets one retry of a family be active at a time (``one_active_retry``).
    retry_root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    pause_requested = models.BooleanField(default=False)
    # How many times a worker began executing this job: a poison job ends failed rather than
    # looping forever through re-deliveries.
    deliveries = models.PositiveIntegerField(default=0)

    total = models.PositiveIntegerField(default=0)
    n_succeeded = models.PositiveIntegerField(default=0)
    n_failed = models.PositiveIntegerField(default=0)
    n_skipped = models.PositiveIntegerField(default=0)
    n_created = models.PositiveIntegerField(default=0)
    n_updated = models.PositiveIntegerField(default=0)
    n_deleted = models.PositiveIntegerField(default=0)
    n_unchanged = models.PositiveIntegerField(default=0)
    # Creates whose outcome is not known yet (or could not be checked): never counted failed.
    n_unknown = models.PositiveIntegerField(default=0, db_default=0)
    # Pull jobs: recipients no longer at the provider.
    n_gone = models.PositiveIntegerField(default=0)

    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=1000, blank=True)

    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledgement = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["connection", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
        ]
        constraints = [
            # Two admins pressing "Retry failed" at once start one job: the second insert
            # waits for the first to commit, then fails on this index.
            models.UniqueConstraint(
                fields=["retry_root"],
                condition=models.Q(kind="retry", status__in=["queued", "running", "paused"]),
                name="one_active_retry",
            )
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.get_kind_display()}, {self.connection_name})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def n_done(self) -> int:
        done = self.n_succeeded + self.n_failed + self.n_skipped
        # While the job runs, an unknown outcome is still being checked: not done yet.
        return done + self.n_unknown if self.is_finished else done

    @property
    def n_pending(self) -> int:
        return max(self.total - self.n_done, 0)

    @property
    def percent(self) -> int:
        if self.kind == JobKind.PULL:
            return 100 if self.is_finished else 0
        return int(100 * self.n_done / self.total) if self.total else 100

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return max((end - self.started_at).total_seconds(), 0.0)


class SyncItem(models.Model):
    """One record of a push: exactly what is sent, and exactly what came back."""

    job = models.ForeignKey(SyncJob, on_delete=models.CASCADE, related_name="items")
    seq = models.PositiveIntegerField()
    identifier = models.CharField(max_length=320)
    operation = models.CharField(max_length=10, choices=Operation.choices)
    payload = models.JSONField(default=dict)
    remote_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Set when the item was in flight on a worker that died: the provider may have applied it,
    # so the engine looks the record up before sending a create again.
    needs_check = models.BooleanField(default=False)
    # When a pending or unknown item may be claimed again (backoff after a transient failure
    # or a failed check); None: now (pending) or never again in this job (unknown).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.CharField(max_length=1000, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # In a retry job: the item of the family's first job that this one sends again (every
    # retry of a retry points at that same first item, so its latest attempt is one lookup).
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="item_seq_unique")]
        indexes = [
            models.Index(fields=["job", "status", "seq"]),
            # Items waiting for a next attempt or check: few, found without reading the rest.
            models.Index(
                fields=["job", "next_attempt_at"],
                condition=models.Q(next_attempt_at__isnull=False),
                name="item_next_attempt",
            ),
            models.Index(fields=["identifier"]),
            # A recipient's page lists the items that touched them by email or remote id.
            models.Index(fields=["remote_id"], name="item_remote_id"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.identifier} ({self.status})"


class MirroredRecipient(models.Model):
    """The local copy of one remote recipient, refreshed by pull jobs and by edits."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="mirror")
    remote_id = models.CharField(max_length=100)
    email = models.CharField(max_length=320, blank=True)
    first_name = models.CharField(max_length=200, blank=True)
    last_name = models.CharField(max_length=200, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=60, blank=True)
    # Search helpers: lower-cased email, accent-free lower-cased names, digits of the phone.
    email_lower = models.CharField(max_length=320, blank=True, db_index=True)
    name_search = models.CharField(max_length=420, blank=True)
    phone_digits = models.CharField(max_length=40, blank=True)
    record = models.JSONField(default=dict)
    remote_modified_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "remote_id"], name="mirror_remote_id_unique"
            )
        ]
        indexes = [
            models.Index(fields=["connection", "email_lower"]),
            models.Index(fields=["connection", "external_id"]),
            models.Index(fields=["connection", "last_seen_at"]),
            # Trigram indexes serve the support search's LIKE 'x%' and LIKE '%x%' on
            # PostgreSQL. Migration 0002 creates them there only (SQLite has no GIN).
            # Counting a connection's live recipients (search page header) from the index.
            models.Index(
                fields=["connection"],
                condition=models.Q(gone_at__isnull=True),
                name="mirror_live_by_connection",
            ),
            GinIndex(
                fields=["email_lower"], name="mirror_email_lower_trgm", opclasses=["gin_trgm_ops"]
            ),
            GinIndex(
                fields=["name_search"], name="mirror_name_search_trgm", opclasses=["gin_trgm_ops"]
            ),
            GinIndex(
                fields=["phone_digits"], name="mirror_phone_digits_trgm", opclasses=["gin_trgm_ops"]
            ),
            GinIndex(
                fields=["external_id"], name="mirror_external_id_trgm", opclasses=["gin_trgm_ops"]
            ),
            # The search's external id prefix (LIKE 'x%', case as typed) on PostgreSQL: a range
            # of this B-tree. The trigram index above served it by reading the trigrams' lists,
            # and "  e" or " em" is in every "EMP-…" id: every search starting with "e" read
            # most of the index (bench/lookup.py). The trigram index stays for generic plans
            # (a prepared statement's pattern is unknown when it is planned).
            models.Index(
                fields=["external_id"],
                name="mirror_external_id_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name or self.email or self.remote_id}"
