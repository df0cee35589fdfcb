"""``import_csv --connection NAME FILE [--sheet NAME] [--header-row N] [--dry-run]``: the
upload pipeline from a shell.

Reads the file exactly as the upload page does (encoding, delimiter, the sheet of a workbook
and the header row, the mapping remembered for the connection or the automatic one), prints
the preview's counts and its first invalid rows with their errors and, without
``--dry-run``, confirms it: the create and update rows
become one push job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.imports import services
from dashboard.imports.exports import row_error_text
from dashboard.imports.models import Import, ImportStatus, RowKind
from dashboard.imports.selectors import import_rows
from integrations.importing.reading import ImportFileError
from integrations.management.sync_command import connection_by_name

# Invalid rows printed with their errors; the rest are counted.
SHOWN_INVALID = 10


class Command(BaseCommand):
    help = "Preview a CSV file against a connection's recipients and, unless --dry-run, send it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE.csv", type=Path)
        parser.add_argument(
            "--connection", required=True, help="The connection's name (any letter case)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print the preview's counts; send nothing."
        )
        parser.add_argument(
            "--sheet",
            metavar="NAME",
            default="",
            help="The sheet of an .xlsx workbook to read (default: the first with data).",
        )
        parser.add_argument(
            "--header-row",
            metavar="N",
            type=int,
            default=None,
            help="The row that names the columns, as a spreadsheet numbers it; 0: the file has "
            "no header row (default: found, skipping title lines above it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        header_row: int | None = options["header_row"]
        if header_row is not None and header_row < 0:
            raise CommandError("--header-row: row numbers start at 1 (0: no header row).")
        connection = connection_by_name(options["connection"], purpose="import")
        with path.open("rb") as handle:
            try:
                run = services.import_create(
                    connection=connection, upload=File(handle, name=path.name), user=None,
                    inline=True, sheet=options["sheet"], header_row=header_row,
                )  # fmt: skip
            except ImportFileError as exc:
                raise CommandError(f"{path}: {exc} Nothing was sent.") from None
        header = ", ".join(
            f"{title} → {entry['path'] or 'ignored'}"
            for title, entry in zip(run.header, run.mapping, strict=True)
        )
        self.stdout.write(
            f"Import {run.pk}: {path.name}, {run.encoding}, delimiter {run.delimiter!r}, "
            f"{services.layout_text(run)}\n"
            f"Columns: {header}"
        )
        if run.status == ImportStatus.UPLOADED:
            problems = services.preview_blockers(run)
            raise CommandError(" ".join(problems) + " Settle it once on the import page.")
        if run.status == ImportStatus.FAILED:
            raise CommandError(f"{run.error} Nothing was sent.")
        self.stdout.write(
            f"Rows: {run.n_rows}  create: {run.n_create}  update: {run.n_update}  "
            f"unchanged: {run.n_unchanged}  invalid: {run.n_invalid}"
        )
        self._print_invalid(run)
        if options["dry_run"]:
            services.import_discard(import_run=run, user=None)
            self.stdout.write("Dry run: nothing was sent.")
            return
        try:
            job = services.import_confirm(import_run=run, user=None)
        except services.ImportStateError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Queued job {job.pk}: {job.total} records to {connection.name!r}.")

    def _print_invalid(self, run: Import) -> None:
        """The first invalid rows, numbered as in the file (the header is row 1), with their
        errors, and how many more there are."""
        if not run.n_invalid:
            return
        some = f", the first {SHOWN_INVALID}" if run.n_invalid > SHOWN_INVALID else ""
        self.stdout.write(f"Invalid rows (not sent){some}:")
        for row in import_rows(import_run=run, kind=RowKind.INVALID)[:SHOWN_INVALID]:
            self.stdout.write(f"  Row {row.number}: {row_error_text(row, run.header)}")
        if run.n_invalid > SHOWN_INVALID:
            more = run.n_invalid - SHOWN_INVALID
            self.stdout.write(f"  … and {more:,} more invalid row{'s' if more != 1 else ''}.")
