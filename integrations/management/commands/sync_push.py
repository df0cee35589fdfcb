"""``manage.py sync_push --connection NAME FILE.jsonl``: push records, then follow the job.

The file holds one JSON object per line::

    {"identifier": "ada@example.com", "operation": "create", "payload": {...}}
    {"identifier": "bob@example.com", "operation": "update", "payload": {...}, "remote_id": "x1"}
    {"identifier": "cy@example.com", "operation": "delete", "remote_id": "x2"}

The payload is the provider's own shape and is sent exactly as given, so every field in it
must be enabled on the connection. The whole file is checked before anything is created: one
bad line and no job exists. It is read line by line twice (check, then store), so a file of
a million records never sits in memory; only the identifiers are kept, to refuse a record
that appears twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from integrations.catalogue import disabled_paths
from integrations.connection import connection_enabled_paths
from integrations.management.sync_command import (
    EXIT_STATUS_HELP,
    SyncJobCommand,
    command_label,
    connection_by_name,
)
from integrations.models import JobSource, Operation
from integrations.sync.services import job_create_push

RECORD_KEYS = frozenset({"identifier", "operation", "payload", "remote_id"})
MAX_IDENTIFIER = 320  # SyncItem.identifier
MAX_REMOTE_ID = 100  # SyncItem.remote_id
MAX_REPORTED_ERRORS = 20
MAX_WORKERS = 32
JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number",
              bool: "true or false", type(None): "null"}  # fmt: skip


class BadRecord(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


class RecordChecker:
    """Check records one line at a time against the JSON Lines format and the connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.enabled = connection_enabled_paths(connection)
        # Items of one job run concurrently, in no set order, so two operations on the same
        # record in one file could land in either order: one line per record.
        self.seen: dict[str, int] = {}

    def check(self, number: int, raw: bytes) -> dict[str, Any] | None:
        """Return the record on line ``number``, None for a blank line, or raise BadRecord."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRecord(number, "not UTF-8 text.") from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            return None
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadRecord(number, f"not valid JSON ({exc.msg}, column {exc.colno}).") from None
        if not isinstance(record, dict):
            kind = JSON_KINDS.get(type(record), "value")
            raise BadRecord(number, f"expected a JSON object, found {kind}.")
        if unknown := sorted(set(record) - RECORD_KEYS):
            raise BadRecord(
                number,
                f"unknown key(s) {', '.join(map(repr, unknown))}; a record has "
                '"identifier", "operation", "payload" and optionally "remote_id".',
            )
        identifier = record.get("identifier")
        if isinstance(identifier, int | float) and not isinstance(identifier, bool):
            identifier = str(identifier)
        if not isinstance(identifier, str) or not identifier.strip():
            raise BadRecord(number, '"identifier" is missing or empty.')
        identifier = identifier.strip()
        if len(identifier) > MAX_IDENTIFIER:
            raise BadRecord(number, f'"identifier" is longer than {MAX_IDENTIFIER} characters.')
        operation = record.get("operation")
        if operation is None:
            raise BadRecord(number, '"operation" is missing (create, update or delete).')
        if operation not in Operation.values:
            raise BadRecord(
                number, f"unknown operation {operation!r}; use create, update or delete."
            )
        payload = record.get("payload")
        if payload is None and operation == Operation.DELETE:
            payload = {}
        if not isinstance(payload, dict):
            raise BadRecord(number, f'"payload" must be a JSON object for a {operation}.')
        if operation != Operation.DELETE and not payload:
            raise BadRecord(number, f'"payload" is empty: nothing to {operation}.')
        if disabled := disabled_paths(self.connection.provider, payload, self.enabled):
            raise BadRecord(
                number,
                f"field(s) not enabled on {self.connection.name!r}: {', '.join(disabled)} "
                f"(enable them at /connections/{self.connection.pk}/fields/ or leave them out).",
            )
        remote_id = record.get("remote_id")
        if remote_id is not None and not isinstance(remote_id, str | int):
            raise BadRecord(number, '"remote_id" must be a string.')
        remote_id = str(remote_id) if remote_id is not None else ""
        if len(remote_id) > MAX_REMOTE_ID:
            raise BadRecord(number, f'"remote_id" is longer than {MAX_REMOTE_ID} characters.')
        key = identifier.casefold()
        if key in self.seen:
            raise BadRecord(
                number,
                f"identifier {identifier!r} is already on line {self.seen[key]} "
                "(one line per record: the items of a job run concurrently).",
            )
        self.seen[key] = number
        return {
            "identifier": identifier,
            "operation": operation,
            "payload": payload,
            "remote_id": remote_id,
        }


def check_file(path: Path, connection: Any) -> int:
    """Check every line; return the number of records or raise CommandError listing the bad
    lines (the first ``MAX_REPORTED_ERRORS`` of them)."""
    checker = RecordChecker(connection)
    errors: list[str] = []
    bad = records = 0
    try:
        lines = path.open("rb")
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
    with lines:
        for number, raw in enumerate(lines, start=1):
            try:
                if checker.check(number, raw) is not None:
                    records += 1
            except BadRecord as exc:
                bad += 1
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append(f"  {exc}")
    if bad:
        more = f"\n  ... and {bad - len(errors)} more" if bad > len(errors) else ""
        lines_word = "line" if bad == 1 else "lines"
        raise CommandError(
            f"{path} has {bad} bad {lines_word}; nothing was queued.\n" + "\n".join(errors) + more
        )
    if not records:
        raise CommandError(f"{path} has no records; nothing was queued.")
    return records


def read_records(path: Path, connection: Any) -> Iterator[dict[str, Any]]:
    """Stream the checked records again (the file could have changed since: check again)."""
    checker = RecordChecker(connection)
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                record = checker.check(number, raw)
            except BadRecord as exc:
                # Raised inside job_create_push's transaction: the job is rolled back.
                raise CommandError(f"{path} changed while it was read: {exc}") from None
            if record is not None:
                yield record


class Command(SyncJobCommand):
    help = (
        "Push the records of a JSON Lines file to a connection's provider as one sync job, "
        "then follow its progress." + EXIT_STATUS_HELP
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file",
            metavar="FILE.jsonl",
            type=Path,
            help='One record per line: {"identifier", "operation": "create"|"update"|'
            '"delete", "payload": {...}, "remote_id"?}.',
        )
        parser.add_argument(
            "--connection", required=True, help="The connection's name (any letter case)."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="How many worker tasks share the job (default 1; each runs SYNC_CONCURRENCY "
            "calls at once, all under the connection's rate limit).",
        )
        self.add_follow_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        self.check_follow_options(options)
        path: Path = options["file"]
        workers = options["workers"]
        if not 1 <= workers <= MAX_WORKERS:
            raise CommandError(f"--workers must be between 1 and {MAX_WORKERS}.")
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        connection = connection_by_name(options["connection"], purpose="push")
        total = check_file(path, connection)
        job = job_create_push(
            connection=connection,
            records=read_records(path, connection),
            source=JobSource.COMMAND,
            source_label=command_label("sync_push", path.name),
            workers=workers,
        )
        self.stdout.write(
            f"Queued job {job.pk}: {total} records to {connection.name!r} "
            f"({connection.get_provider_display()})."
        )
        self.follow_or_return(job, options)
