"""Dates by column in an import: the order a column's values prove, the question when none
does, mixed columns flagged, times of day, Excel serials and month names, dates shown as a
person reads them, and the admin's choice of order on the mapping table."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dashboard.audit.models import AuditEvent
from dashboard.connections import services as connection_services
from dashboard.imports import services
from dashboard.imports.models import Import, ImportRow, ImportStatus, RememberedMapping
from dashboard.imports.selectors import import_rows
from integrations.models import MirroredRecipient, SyncItem, SyncJob
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

HEADER = "Email,First name,Last name,Start date"
START = "3"  # the Start date column's index, as errors and warnings name it


def upload(lines: list[str], name: str = "people.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "\r\n".join(lines).encode(), "text/csv")


def people(dates: list[str]) -> list[str]:
    return [HEADER] + [f"p{n}@example.com,Pat,Lee{n},{date}" for n, date in enumerate(dates)]


def rows_of(run: Import) -> dict[int, ImportRow]:
    return {row.number: row for row in import_rows(import_run=run)}


def page_of(client, run: Import) -> str:
    return client.get(f"/imports/{run.pk}/").content.decode()


def text_of(html: str) -> str:
    """The page's text with tags dropped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_column_of_only_ambiguous_dates_asks_and_cannot_be_confirmed(
    redflag, admin_user, admin_client
):
    run = services.import_create(
        connection=redflag,
        upload=upload(people(["03/02/2025", "04/05/2025", "2025-01-06"])),
        user=admin_user,
    )
    rows = rows_of(run)
    assert run.status == ImportStatus.PREVIEWED
    # No ambiguous date is previewed as valid; the unambiguous one is.
    assert rows[2].kind == rows[3].kind == "invalid"
    assert rows[2].errors[START] == (
        "“03/02/2025” could be 3 February 2025 (day first) or 2 March 2025 (month first), and "
        "no date in this column tells which: choose how the column writes its dates in the "
        "Columns table above."
    )
    assert rows[4].kind == "create" and rows[4].payload["sfHireDate"] == "20250106"
    assert run.mapping[3]["date_order"] == ""

    with pytest.raises(services.ImportStateError, match="Choose how the dates in “Start date”"):
        services.import_confirm(import_run=run, user=admin_user)
    response = admin_client.post(f"/imports/{run.pk}/confirm/")
    assert response.status_code == 302 and not SyncJob.objects.exists()

    text = text_of(page_of(admin_client, run))
    assert "Which order are these dates written in?" in text
    assert "Day first: 03/02/2025 → 3 February 2025" in text
    assert "Month first: 03/02/2025 → 2 March 2025" in text
    assert "Choose how the dates in “Start date” are written" in text
    assert "Confirm: send" not in text


def test_one_deciding_value_reads_the_whole_column_month_first(redflag, admin_user):
    """In a US file 12/31/2025 proves the column month first: 03/02/2025 is 2 March."""
    run = services.import_create(
        connection=redflag,
        upload=upload(people(["03/02/2025", "12/31/2025", "04/05/2025"])),
        user=admin_user,
    )
    rows = rows_of(run)
    assert [rows[n].kind for n in (2, 3, 4)] == ["create"] * 3
    assert [rows[n].payload["sfHireDate"] for n in (2, 3, 4)] == [
        "20250302", "20251231", "20250405",
    ]  # fmt: skip
    assert (run.mapping[3]["date_order"], run.mapping[3]["date_how"]) == ("mdy", "file")
    assert services.import_date_questions(import_run=run) == []
    job = services.import_confirm(import_run=run, user=admin_user)
    assert sorted(item.payload["sfHireDate"] for item in SyncItem.objects.filter(job=job)) == [
        "20250302", "20250405", "20251231",
    ]  # fmt: skip


def test_a_column_that_mixes_both_orders_is_flagged_on_its_rows(redflag, admin_user, admin_client):
    run = services.import_create(
        connection=redflag,
        upload=upload(
            people(["31/12/2025", "13/01/2025", "12/31/2025", "03/02/2025", "2025-01-06"])
        ),
        user=admin_user,
    )
    rows = rows_of(run)
    assert {n: row.kind for n, row in rows.items()} == {
        2: "create", 3: "create", 4: "invalid", 5: "invalid", 6: "create",
    }  # fmt: skip
    assert rows[4].errors[START] == (
        "“12/31/2025” can only be month first (31 December 2025), but this column is read day "
        "first (it mixes both orders): write this date as 2025-12-31."
    )
    assert rows[5].errors[START] == (
        "“03/02/2025” could be 3 February 2025 (day first) or 2 March 2025 (month first), and "
        "this column mixes both orders (it is read day first): write this date as YYYY-MM-DD."
    )
    assert rows[2].payload["sfHireDate"] == "20251231"
    text = text_of(page_of(admin_client, run))
    assert (
        "This column mixes both orders: “31/12/2025” (row 2) can only be day first, "
        "“12/31/2025” (row 4) only month first. It is read day first"
    ) in text


def test_the_plain_database_export_with_midnight_times_is_all_valid(redflag, admin_user):
    """ "2002-08-14 00:00:00" is how a database export writes a date: every row is valid,
    with no warning."""
    lines = ["email,first_name,last_name,hire_date"] + [
        f"e{n}@example.com,Emp,Loyee{n},2002-08-{10 + n:02d} 00:00:00" for n in range(8)
    ]
    run = services.import_create(connection=redflag, upload=upload(lines), user=admin_user)
    rows = list(import_rows(import_run=run))
    assert run.mapped_paths[3] == "sfHireDate"
    assert (run.n_create, run.n_invalid) == (8, 0)
    assert [row.payload["sfHireDate"] for row in rows] == [f"200208{10 + n}" for n in range(8)]
    assert all(row.warnings == {} for row in rows)
    iso = services.import_create(
        connection=redflag,
        upload=upload(people(["2002-08-14T00:00:00Z", "2002-08-15T00:00:00+02:00"])),
        user=admin_user,
    )
    assert (iso.n_create, iso.n_invalid) == (2, 0)
    assert all(row.warnings == {} for row in import_rows(import_run=iso))


def test_a_time_other_than_midnight_is_a_warning_and_the_date_is_still_sent(
    redflag, admin_user, admin_client
):
    run = services.import_create(
        connection=redflag,
        upload=upload(people(["2025-02-03 09:30:00", "2025-02-04 00:00:00"])),
        user=admin_user,
    )
    rows = rows_of(run)
    assert rows[2].kind == "create" and rows[2].payload["sfHireDate"] == "20250203"
    assert rows[2].warnings == {
        START: "“2025-02-03 09:30:00” has a time of day (09:30:00), which a date field does "
        "not hold: 3 February 2025 is sent without it."
    }
    assert rows[3].warnings == {}
    text = text_of(page_of(admin_client, run))
    assert "Start date : “2025-02-03 09:30:00” has a time of day (09:30:00)" in text
    job = services.import_confirm(import_run=run, user=admin_user)
    assert SyncItem.objects.get(job=job, identifier="p0@example.com").payload["sfHireDate"] == (
        "20250203"
    )


def test_excel_serial_numbers_in_a_workbook_are_read_as_dates(admin_client, redflag):
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.append(["Email", "First name", "Last name", "Start date"])
    # A date column formatted as numbers holds the serials; one cell kept as a real date.
    sheet.append(["a@example.com", "Ann", "One", 45678])
    sheet.append(["b@example.com", "Bo", "Two", 45679])
    sheet.append(["c@example.com", "Cy", "Three", datetime(2025, 1, 23)])
    data = io.BytesIO()
    book.save(data)
    response = admin_client.post(
        "/imports/new/",
        {
            "connection": redflag.pk,
            "file": SimpleUploadedFile("starters.xlsx", data.getvalue(), "application/zip"),
        },
    )
    assert response.status_code == 302
    run = Import.objects.get()
    assert [row.payload.get("sfHireDate") for row in import_rows(import_run=run)] == [
        "20250121", "20250122", "20250123",
    ]  # fmt: skip
    assert run.n_invalid == 0
    assert "Written as: YYYY-MM-DD, Excel serial numbers." in text_of(page_of(admin_client, run))


def test_english_month_names_are_read(redflag, admin_user):
    run = services.import_create(
        connection=redflag,
        upload=upload(
            people(["14 Aug 2002", '"Aug 15, 2002"', "16-Aug-2002", "August 17 2002", "3 Mar 25"])
        ),
        user=admin_user,
    )
    assert [row.payload["sfHireDate"] for row in import_rows(import_run=run)] == [
        "20020814", "20020815", "20020816", "20020817", "20250303",
    ]  # fmt: skip


@pytest.fixture
def hr(admin_user):
    connection = ConnectionFactory(name="HR RedFlag", provider="redflag")
    for path in ("education", "sfHireDate"):
        connection_services.field_setting_set(
            connection=connection, path=path, enabled=True, user=admin_user
        )
    return connection


def test_history_entry_dates_follow_their_columns_order(hr, admin_user):
    """A school's start column proven month first reads its 03/02/2001 as 2 March, while
    the hire date column beside it is day first."""
    lines = [
        "email,firstName,lastName,education.school,education.start,Hire date",
        "a@example.com,Ann,One,Oxford,03/02/2001,03/02/2025",
        "b@example.com,Bo,Two,Leeds,12/31/2001,31/12/2025",
    ]
    run = services.import_create(connection=hr, upload=upload(lines), user=admin_user)
    rows = rows_of(run)
    assert rows[2].kind == "create", rows[2].errors
    assert rows[2].payload["education"] == [{"school": "Oxford", "start": "20010302"}]
    assert rows[2].payload["sfHireDate"] == "20250203"
    assert rows[3].payload["education"] == [{"school": "Leeds", "start": "20011231"}]
    assert [entry.get("date_order", "") for entry in run.mapping] == [
        "", "", "", "", "mdy", "dmy",
    ]  # fmt: skip


def test_the_preview_shows_dates_as_a_person_reads_them_and_sends_the_providers_format(
    redflag, admin_user, admin_client
):
    MirroredRecipient.objects.create(
        connection=redflag,
        remote_id="rid-1",
        email="p1@example.com",
        email_lower="p1@example.com",
        record={"_id": "rid-1", "email": "p1@example.com", "firstName": "Pat",
                "lastName": "Lee1", "sfHireDate": "20240101"},
        last_seen_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    run = services.import_create(
        connection=redflag,
        upload=upload(people(["03/03/2025", "03/02/2025", "12/31/2025"])),
        user=admin_user,
    )
    rows = rows_of(run)
    assert rows[2].payload["sfHireDate"] == "20250303"
    assert rows[3].kind == "update" and rows[3].changes["sfHireDate"] == ["20240101", "20250302"]
    text = text_of(page_of(admin_client, run))
    assert "Hire date (SuccessFactors) 3 March 2025" in text
    assert "Hire date (SuccessFactors) 1 January 2024 → 2 March 2025" in text
    assert "20250303" not in text and "20250302" not in text


def test_the_mapping_table_shows_the_format_with_an_example_and_a_change_control(
    redflag, admin_user, admin_client
):
    run = services.import_create(
        connection=redflag,
        upload=upload(people(["03/02/2025", "12/31/2025"])),
        user=admin_user,
    )
    html = page_of(admin_client, run)
    text = text_of(html)
    assert "Dates: 03/02/2025 → 2 March 2025" in text
    assert "Read month first: “12/31/2025” (row 3) can only be month first." in text
    assert "Written as: day and month as numbers." in text
    form = re.search(r'<form id="date-order-3" method="post" action="([^"]+)">', html)
    assert form is not None and form[1] == f"/imports/{run.pk}/date-order/"
    radios = re.findall(r'<input type="radio" name="order" value="(\w+)" form="date-order-3"'
                        r'( checked)?', html)  # fmt: skip
    assert radios == [("dmy", ""), ("mdy", " checked")]
    assert 'type="submit" form="date-order-3">Read the dates this way' in html


def test_choosing_the_order_rebuilds_the_preview_is_audited_and_remembered(
    redflag, admin_user, admin_client
):
    run = services.import_create(
        connection=redflag, upload=upload(people(["03/02/2025", "04/05/2025"])), user=admin_user
    )
    assert run.n_invalid == 2
    generation = run.generation

    response = admin_client.post(f"/imports/{run.pk}/date-order/", {"column": "3", "order": "mdy"})
    assert response.status_code == 302 and response["Location"] == f"/imports/{run.pk}/"
    run.refresh_from_db()
    assert run.generation == generation + 1
    assert (run.mapping[3]["date_order"], run.mapping[3]["date_how"]) == ("mdy", "chosen")
    assert (run.n_create, run.n_invalid) == (2, 0)
    assert [row.payload["sfHireDate"] for row in import_rows(import_run=run)] == [
        "20250302", "20250405",
    ]  # fmt: skip
    event = AuditEvent.objects.filter(action="import.mapping_changed").get()
    assert event.changes == {
        "Start date (column 4): dates": {"before": "undecided", "after": "month first"}
    }
    assert RememberedMapping.objects.get(connection=redflag).options == {
        "date_orders": {"startdate": "mdy"}
    }
    assert "Confirm: send 2 rows to Acme RedFlag" in text_of(page_of(admin_client, run))

    # The next file with a "Start date" column of ambiguous dates is read as chosen, and says so.
    again = services.import_create(
        connection=redflag, upload=upload(people(["01/02/2025"])), user=admin_user
    )
    assert import_rows(import_run=again).get().payload["sfHireDate"] == "20250102"
    assert again.mapping[3]["date_how"] == "remembered"
    assert "as chosen for a column of this name before" in text_of(page_of(admin_client, again))


def test_a_bad_date_order_request_changes_nothing(redflag, admin_user, admin_client):
    run = services.import_create(
        connection=redflag, upload=upload(people(["03/02/2025"])), user=admin_user
    )
    bad = [
        {"column": "3", "order": "ymd"},
        {"column": "0", "order": "mdy"},
        {"column": "99", "order": "mdy"},
    ]
    for data in bad:
        response = admin_client.post(f"/imports/{run.pk}/date-order/", data, follow=True)
        assert response.status_code == 200
        messages = [str(m) for m in response.context["messages"]]
        assert messages and messages[0] in {
            "Choose whether the column's dates are day first or month first.",
            "That column is not mapped to a date field.",
        }
    # A NUL byte never reaches the view (RefuseNulMiddleware).
    response = admin_client.post(
        f"/imports/{run.pk}/date-order/", {"column": "x\x00", "order": "mdy"}
    )
    assert response.status_code == 400
    run.refresh_from_db()
    assert run.mapping[3]["date_order"] == ""
    assert not AuditEvent.objects.filter(action="import.mapping_changed").exists()


def test_snappy_gets_its_own_date_format_and_the_page_reads_it_in_words(
    snappy, admin_user, admin_client
):
    connection_services.field_setting_set(
        connection=snappy, path="employee.workingSince", enabled=True, user=admin_user
    )
    MirroredRecipient.objects.create(
        connection=snappy,
        remote_id="s-1",
        email="p0@example.com",
        email_lower="p0@example.com",
        record={"_id": "s-1", "email": "p0@example.com", "firstName": "Pat", "lastName": "Lee0",
                "employee": {"workingSince": "2024-01-01T00:00:00.000Z"}},
        last_seen_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    run = services.import_create(
        connection=snappy,
        upload=upload(people(["03/02/2025", "12/31/2025"])),
        user=admin_user,
    )
    assert run.mapped_paths[3] == "employee.workingSince"
    row = import_rows(import_run=run).get(number=2)
    assert row.kind == "update", row.errors
    assert row.payload["employee"]["workingSince"] == "2025-03-02"
    assert "Start date 1 January 2024 → 2 March 2025" in text_of(page_of(admin_client, run))


def test_cells_fixed_in_the_preview_count_in_their_columns_evidence(redflag, admin_user):
    run = services.import_create(
        connection=redflag, upload=upload(people(["03/02/2025", "04/05/2025"])), user=admin_user
    )
    assert run.mapping[3]["date_order"] == ""
    run.fixes = {"3": {START: "12/31/2025"}}
    run.save(update_fields=["fixes"])
    services.import_start_preview(import_run=run)
    run.refresh_from_db()
    assert (run.mapping[3]["date_order"], run.mapping[3]["date_how"]) == ("mdy", "file")
    assert import_rows(import_run=run).get(number=2).payload["sfHireDate"] == "20250302"


def test_a_row_of_the_wrong_width_is_no_evidence(redflag, admin_user):
    """A ragged row's cells are not where the header says: its "31/12/2025" under the date
    column's index decides nothing."""
    lines = [*people(["03/02/2025"]), "x@example.com,Pat,Lee,31/12/2025,extra"]
    run = services.import_create(connection=redflag, upload=upload(lines), user=admin_user)
    assert run.mapping[3]["date_order"] == ""
    assert services.import_date_questions(import_run=run)


def test_every_chunk_reads_the_dates_in_the_order_the_whole_file_decides(
    redflag, admin_user, settings, chunked_here
):
    """The writer decides each date column's order from all its values before it queues
    the chunks: a chunk task reads its rows' dates in the order the last chunk's row
    proves, as the writer's own chunk does."""
    settings.IMPORT_INLINE_MAX_BYTES = 0
    queued = chunked_here()
    dates = [f"{n % 12 + 1:02d}/{n % 9 + 1:02d}/2025 10:00" for n in range(600)]
    dates[-1] = "12/31/2025"  # the last row decides: month first
    run = services.import_create(connection=redflag, upload=upload(people(dates)), user=admin_user)
    services.import_build_preview(import_id=run.pk, generation=run.generation, chunked=True)
    run.refresh_from_db()

    assert queued == [1, 2, 3, 4, 5]
    rows = list(import_rows(import_run=run))
    assert run.status == "previewed" and run.n_invalid == 0
    assert [row.payload["sfHireDate"] for row in rows] == [
        f"2025{n % 12 + 1:02d}{n % 9 + 1:02d}" for n in range(599)
    ] + ["20251231"]
    assert all("(10:00)" in row.warnings[START] for row in rows[:-1])


def test_an_order_chosen_while_a_preview_reads_the_dates_is_kept(redflag, admin_user):
    """A preview on the worker read the import before the admin chose an order: storing
    what the file says keeps the choice rather than writing the older entry back."""
    from dashboard.imports.selectors import import_fields

    run = services.import_create(
        connection=redflag, upload=upload(people(["03/02/2025"])), user=admin_user
    )
    worker_copy = Import.objects.get(pk=run.pk)
    chosen = [*run.mapping]
    chosen[3] = {**chosen[3], "date_order": "mdy", "date_how": "chosen"}
    Import.objects.filter(pk=run.pk).update(mapping=chosen)

    assert services._dates_decide(worker_copy, import_fields(connection=redflag))
    assert worker_copy.mapping[3]["date_order"] == "mdy"
    run.refresh_from_db()
    assert (run.mapping[3]["date_order"], run.mapping[3]["date_how"]) == ("mdy", "chosen")
