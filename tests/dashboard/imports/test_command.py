"""``import_csv``: the same pipeline from a shell."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from dashboard.imports.models import ImportStatus
from integrations.models import JobSource, SyncJob

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[3] / "dashboard" / "imports" / "demo"


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_csv", *args, stdout=out)
    return out.getvalue()


def test_a_dry_run_prints_the_counts_and_sends_nothing(redflag):
    output = run("--connection", "acme redflag", str(DEMO / "messy-new-starters.csv"), "--dry-run")
    assert "utf-8-sig, delimiter ';'" in output
    assert "E-mail → email" in output and "Notes → ignored" in output
    assert "create: 4" in output and "invalid: 8" in output
    assert "Dry run: nothing was sent." in output
    assert not SyncJob.objects.exists()
    assert redflag.imports.get().status == ImportStatus.DISCARDED


def test_without_dry_run_the_preview_is_confirmed_as_a_job(redflag):
    output = run("--connection", "Acme RedFlag", str(DEMO / "messy-new-starters.csv"))
    job = SyncJob.objects.get()
    assert f"Queued job {job.pk}: 4 records" in output
    assert job.source == JobSource.IMPORT and job.total == 4


def test_an_unreadable_file_fails_with_its_reason(redflag, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(CommandError, match=r"The file is empty\. Nothing was sent\."):
        run("--connection", "Acme RedFlag", str(path))


def test_a_dry_run_prints_the_invalid_rows_with_their_errors(redflag):
    output = run("--connection", "acme redflag", str(DEMO / "messy-new-starters.csv"), "--dry-run")
    assert "Invalid rows (not sent):" in output
    lines = [line for line in output.splitlines() if line.startswith("  Row ")]
    assert len(lines) == 8
    assert all(re.fullmatch(r"  Row \d+: .+", line) for line in lines)
    assert "more invalid row" not in output


def test_only_the_first_ten_invalid_rows_are_printed_and_the_rest_counted(redflag, tmp_path):
    path = tmp_path / "people.csv"
    bad = "".join(f"not-an-email-{n},Ann,Lee\r\n" for n in range(13))
    path.write_text(f"email,firstName,lastName\r\nok@example.com,Ok,Fine\r\n{bad}")
    output = run("--connection", "Acme RedFlag", str(path), "--dry-run")
    assert "Invalid rows (not sent), the first 10:" in output
    assert "  Row 3: email: " in output
    assert "  Row 12: email: " in output and "  Row 13:" not in output
    assert "  … and 3 more invalid rows." in output
