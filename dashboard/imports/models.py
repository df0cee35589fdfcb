"""CSV imports: the uploaded file, how it is read and mapped, and every row's preview.

The preview is the contract: confirming sends exactly the ``create`` and ``update`` rows
stored here, with the payloads stored here.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import models
from django.utils import timezone
from django.utils.text import get_valid_filename

# The most bytes of a stored file's name: a file system takes 255, and a storage may add
# "_" and seven random characters to a name already taken.
STORED_NAME_BYTES = 100


def stored_name(name: str) -> str:
    """Django's safe file name, shortened to ``STORED_NAME_BYTES`` of UTF-8 with its
    extension kept (a name of 255 accented or Japanese characters is 500 bytes or more).

    The name as uploaded is kept apart, for display (``Import.original_name``).
    """
    valid = get_valid_filename(name)
    if len(valid.encode()) <= STORED_NAME_BYTES:
        return valid
    stem, dot, extension = valid.rpartition(".")
    if not dot or len(extension) > 10:
        stem, dot, extension = valid, "", ""
    budget = STORED_NAME_BYTES - len(dot) - len(extension.encode())
    # Cut at a character boundary: a partial UTF-8 sequence at the end is dropped.
    short = stem.encode()[:budget].decode(errors="ignore").rstrip("._-") or "upload"
    return f"{short}{dot}{extension}"


def upload_name(instance: Import, filename: str) -> str:
    """Where an import's file is stored: ``imports/<year>/<month>/<short safe name>``."""
    return f"imports/{timezone.now():%Y/%m}/{stored_name(filename)}"


def upload_storage() -> Storage:
    """The storage of every upload: ``STORAGES["default"]`` (the file system by default, a
    bucket in production), looked up when a file is stored or read, so every process (the
    web server, any worker on any host) uses the one the settings name, and a test's
    ``override_settings(STORAGES=…)`` applies."""
    return default_storage


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Needs a mapping"
    PARSING = "parsing", "Reading rows"
    PREVIEWED = "previewed", "Ready to confirm"
    CONFIRMED = "confirmed", "Confirmed"
    DISCARDED = "discarded", "Discarded"
    FAILED = "failed", "Could not be read"


class RowKind(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    UNCHANGED = "unchanged", "Unchanged"
    INVALID = "invalid", "Invalid"


class Import(models.Model):
    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.CASCADE, related_name="imports"
    )
    file = models.FileField(upload_to=upload_name, storage=upload_storage, max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(max_length=30)
    delimiter = models.CharField(max_length=2)
    # For an Excel workbook: the sheet that was read (the file stored is its CSV), the
    # workbook's sheets, and the workbook itself (to read another sheet).
    sheet = models.CharField(max_length=100, blank=True)
    sheets = models.JSONField(default=list, blank=True)
    source_file = models.FileField(
        upload_to=upload_name, storage=upload_storage, max_length=300, blank=True
    )
    # The record (1 = the first non-blank line) that names the columns; 0: the file has no
    # header line, its columns are named "Column 1", "Column 2"…
    header_row = models.PositiveIntegerField(default=1)
    # Why the encoding was chosen: the candidates weighed and, where they read the file
    # differently, the rows where they differ (shown for the admin to choose).
    encoding_evidence = models.JSONField(default=dict, blank=True)
    header = models.JSONField(default=list)
    # One entry per column: {"path": "" (ignored) or a catalogue path, "confidence", "reason"}
    # and, for a date column, how its dates are read.
    mapping = models.JSONField(default=list)
    # Catalogue path → the value every row gets where the file has none (one Snappy account
    # for the whole file, a country).
    constants = models.JSONField(default=dict, blank=True)
    # Cells corrected in the preview: row number (text) → {column index (text): new value}.
    fixes = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    error = models.CharField(max_length=1000, blank=True)
    # Progress of a preview being built: bytes of the file read so far.
    bytes_read = models.PositiveBigIntegerField(default=0)
    n_rows = models.PositiveIntegerField(default=0)
    n_create = models.PositiveIntegerField(default=0)
    n_update = models.PositiveIntegerField(default=0)
    n_unchanged = models.PositiveIntegerField(default=0)
    n_invalid = models.PositiveIntegerField(default=0)
    # Bumped each time the preview is rebuilt, so a stale worker's rows are never mixed in.
    generation = models.PositiveIntegerField(default=0)
    # The build of this generation's preview: who took it (host, process; "" while queued),
    # when it last reported (queued, then after every batch), and how many builds started.
    # A build silent for IMPORT_PREVIEW_STALE_AFTER is taken over (imports.watchdog).
    preview_claim = models.CharField(max_length=100, blank=True)
    preview_heartbeat_at = models.DateTimeField(null=True, blank=True)
    preview_attempts = models.PositiveSmallIntegerField(default=0)
    previewed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    job = models.OneToOneField(
        "integrations.SyncJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_import",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.original_name}"

    @property
    def is_open(self) -> bool:
        """Still changeable: not confirmed, discarded or failed."""
        return self.status in {ImportStatus.UPLOADED, ImportStatus.PARSING, ImportStatus.PREVIEWED}

    @property
    def n_to_send(self) -> int:
        return self.n_create + self.n_update

    @property
    def nothing_to_send(self) -> bool:
        """A finished preview in which every row is unchanged or invalid."""
        return self.status == ImportStatus.PREVIEWED and self.n_to_send == 0

    @property
    def asks_encoding(self) -> bool:
        """Waiting for the admin to choose between encodings that read the file differently."""
        evidence = self.encoding_evidence or {}
        return (
            self.status == ImportStatus.UPLOADED
            and bool(evidence.get("question"))
            and not evidence.get("confirmed")
        )

    @property
    def status_label(self) -> str:
        """The status as the pages show it: a preview with nothing to send says so, and an
        import waiting for its encoding says that rather than "Needs a mapping"."""
        if self.asks_encoding:
            return "Needs its encoding"
        return "Nothing to send" if self.nothing_to_send else self.get_status_display()

    @property
    def status_badge(self) -> str:
        """The badge's class suffix (``import-…``) for ``status_label``."""
        return "nothing" if self.nothing_to_send else self.status

    @property
    def percent(self) -> int:
        if self.status != ImportStatus.PARSING:
            return 100
        return min(99, int(100 * self.bytes_read / self.size)) if self.size else 0

    @property
    def preview_note(self) -> str:
        """What the page says about a preview being built that a worker took over, or whose
        worker is silent ("" when neither)."""
        if self.status != ImportStatus.PARSING:
            return ""
        heartbeat = self.preview_heartbeat_at
        silent = heartbeat is not None and (timezone.now() - heartbeat).total_seconds() > (
            settings.IMPORT_PREVIEW_STALE_AFTER
        )
        if self.preview_claim and silent:
            return (
                "The worker building this preview stopped reporting: it will be built again "
                "from the start by another worker within a few minutes."
            )
        if self.preview_attempts > 1:
            return (
                f"The first worker building this preview stopped: it is being built again from "
                f"the start (attempt {self.preview_attempts} of "
                f"{settings.IMPORT_PREVIEW_MAX_ATTEMPTS})."
            )
        return ""

    @property
    def mapped_paths(self) -> list[str]:
        return [entry.get("path", "") for entry in self.mapping]


class ImportRow(models.Model):
    """One data row of the file as previewed: what it said, what will be sent, and why."""

    # No index of its own: both indexes below start with it.
    # No database-level constraint: checking it is a third of PostgreSQL's work on a
    # preview's COPY (about 0.5 s per 100,000 rows). Rows are written only by the preview of
    # an import that exists, and deleted with it through the ORM (Django cascades in Python).
    import_run = models.ForeignKey(
        Import,
        on_delete=models.CASCADE,
        related_name="rows",
        db_index=False,
        db_constraint=False,
    )
    generation = models.PositiveIntegerField(default=0)
    number = models.PositiveIntegerField()  # the record's place in the file; the header is 1
    cells = models.JSONField(default=list)
    kind = models.CharField(max_length=10, choices=RowKind.choices)
    payload = models.JSONField(default=dict)
    # Column index (as text) or "row" → message.
    errors = models.JSONField(default=dict)
    # Column index (as text) → a message about a value that is sent all the same.
    warnings = models.JSONField(default=dict)
    # Catalogue path → [old, new].
    changes = models.JSONField(default=dict)
    identifier = models.CharField(max_length=320, blank=True)
    remote_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["number"]
        # Every read is one preview's rows in file order, of one kind (a tab, confirming) or
        # all (the "All" tab, the first row, flagging duplicates). No index on the identifier:
        # duplicates are found while the rows are read, and a random key costs the most to
        # maintain while a preview is written.
        indexes = [
            models.Index(fields=["import_run", "generation", "kind", "number"]),
            models.Index(fields=["import_run", "generation", "number"]),
        ]

    def __str__(self) -> str:
        return f"Row {self.number} ({self.kind})"


class RememberedMapping(models.Model):
    """The mapping last used for a connection: normalised header → path ("" = ignored)."""

    connection = models.OneToOneField(
        "integrations.Connection", on_delete=models.CASCADE, related_name="import_mapping"
    )
    columns = models.JSONField(default=dict)
    # The encoding last chosen for the connection's files ("" = detect), and other reading
    # choices by normalised header (date orders…).
    encoding = models.CharField(max_length=30, blank=True)
    options = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Import mapping for {self.connection}"
