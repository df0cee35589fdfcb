"""Fixing an invalid cell in the preview: the row is checked again at once and moves to its
class, repeated identifiers are settled by the preview's rule, the fix is kept, audited and
sent."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dashboard.audit.models import AuditEvent
from dashboard.imports import services
from dashboard.imports.models import Import, ImportRow
from dashboard.imports.selectors import import_rows
from integrations.models import SyncItem
from tests.factories import UserFactory, mirrored

pytestmark = pytest.mark.django_db

TEXT = (
    "email,firstName,lastName\r\n"
    "ann@example.com,Ann,Lee\r\n"  # row 2: create
    "bob(at)example.com,Bob,Marsh\r\n"  # row 3: an invalid email
    "kim@example.com,Kimberly,Known\r\n"  # row 4: update
)


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")


def start(connection, user, text: str = TEXT) -> Import:
    return services.import_create(connection=connection, upload=upload(text), user=user)


def rows(run: Import) -> dict[int, ImportRow]:
    return {row.number: row for row in import_rows(import_run=run)}


def counts(run: Import) -> tuple[int, int, int, int, int]:
    run.refresh_from_db()
    return run.n_create, run.n_update, run.n_unchanged, run.n_invalid, run.n_rows


def fix(run: Import, number: int, column: int, value: str, user) -> ImportRow:
    return services.import_fix_cell(
        import_run=run, number=number, column=column, value=value, user=user
    )


@pytest.fixture
def run(redflag, admin_user) -> Import:
    mirrored(redflag, "kim@example.com", firstName="Kim", lastName="Known")
    run = start(redflag, admin_user)
    assert counts(run) == (1, 1, 0, 1, 3)
    return run


def test_fixing_an_invalid_email_makes_the_row_a_create_and_the_counts_follow(run, admin_user):
    row = fix(run, 3, 0, "bob@example.com", admin_user)

    assert row.kind == "create"
    assert row.errors == {}
    assert row.payload == {"email": "bob@example.com", "firstName": "Bob", "lastName": "Marsh"}
    assert row.identifier == "bob@example.com"
    assert counts(run) == (2, 1, 0, 0, 3)
    run.refresh_from_db()
    assert run.fixes == {"3": {"0": "bob@example.com"}}
    # A fixed row keeps its corrected cells, valid or not.
    assert rows(run)[3].cells == ["bob@example.com", "Bob", "Marsh"]


def test_a_fix_that_names_a_known_recipient_makes_the_row_an_update(run, redflag, admin_user):
    mirrored(redflag, "bob@example.com", firstName="Robert", lastName="Marsh")
    row = fix(run, 3, 0, "BOB@example.com", admin_user)
    assert row.kind == "update"
    assert row.remote_id == "rid-bob@example.com"
    assert row.changes == {"firstName": ["Robert", "Bob"]}
    assert counts(run) == (1, 2, 0, 0, 3)


def test_a_fix_that_still_fails_shows_the_new_error(run, admin_user):
    row = fix(run, 3, 0, "bob@", admin_user)
    assert row.kind == "invalid"
    assert row.errors == {"0": "Nothing after the @."}
    assert row.cells == ["bob@", "Bob", "Marsh"]
    assert counts(run) == (1, 1, 0, 1, 3)
    # Fixed again, it is valid: a row is fixed as often as it takes.
    assert fix(run, 3, 0, "bob@example.com", admin_user).kind == "create"
    run.refresh_from_db()
    assert run.fixes == {"3": {"0": "bob@example.com"}}


def test_a_fix_in_another_column_leaves_the_other_errors(redflag, admin_user):
    run = start(redflag, admin_user, "email,firstName,lastName,country\r\nbad,Ann,Lee,Atlantis\r\n")
    assert set(rows(run)[2].errors) == {"0", "3"}
    row = fix(run, 2, 3, "Norway", admin_user)
    assert row.kind == "invalid" and set(row.errors) == {"0"}
    row = fix(run, 2, 0, "ann@example.com", admin_user)
    assert row.kind == "create" and row.payload["country"] == "NO"


def rebuild(run: Import) -> None:
    """Build the preview again, as the Refresh button does (with the import as stored)."""
    run.refresh_from_db()
    services.import_start_preview(import_run=run)


def fingerprint(run: Import) -> dict[int, tuple]:
    return {
        n: (r.kind, r.payload, r.errors, r.changes, r.identifier, r.remote_id, r.cells)
        for n, r in rows(run).items()
    }


def test_fixes_survive_a_preview_rebuild_with_the_same_result(run, admin_user):
    """Refreshing, or changing the mapping, reads the file again with every fix over it:
    the rows come out exactly as the fixes left them."""
    fix(run, 3, 0, "bob@example.com", admin_user)
    fixed = fingerprint(run)

    rebuild(run)

    run.refresh_from_db()
    assert fingerprint(run) == fixed
    assert counts(run) == (2, 1, 0, 0, 3)

    # Row 3 now gets no first name: a new recipient needs one.
    services.import_set_mapping(import_run=run, paths=["email", "", "lastName"], user=admin_user)
    assert rows(run)[3].identifier == "bob@example.com"
    assert "needs First name" in rows(run)[3].errors["row"]


def test_fixes_survive_reading_the_file_again_and_never_land_in_other_columns(run, admin_user):
    """Another encoding reads the same rows and columns: the fix applies. Another delimiter
    splits the rows into other columns: the fixes are dropped, as they would land in the
    wrong cells (with ";", this file's one column would take the fixed email)."""
    fix(run, 3, 0, "bob@example.com", admin_user)
    run.refresh_from_db()

    services.import_set_reading(import_run=run, encoding="cp1252", delimiter=",", user=admin_user)
    assert rows(run)[3].kind == "create"
    assert rows(run)[3].payload["email"] == "bob@example.com"

    services.import_set_reading(import_run=run, encoding="cp1252", delimiter=";", user=admin_user)
    run.refresh_from_db()
    assert run.header == ["email,firstName,lastName"]
    assert run.fixes == {}
    services.import_set_reading(import_run=run, encoding="cp1252", delimiter=",", user=admin_user)
    assert rows(run)[3].kind == "invalid"
    assert rows(run)[3].cells[0] == "bob(at)example.com"


def test_a_fix_that_repeats_another_rows_identifier_makes_both_rows_invalid(run, admin_user):
    """Row 2 is a valid create and keeps no cells: they are read from the file, as an invalid
    row needs them (invalid.csv)."""
    row = fix(run, 3, 0, "ANN@example.com", admin_user)

    assert row.kind == "invalid"
    assert row.errors == {"row": "Same identifier as row 2: keep one."}
    first = rows(run)[2]
    assert first.kind == "invalid"
    assert first.errors == {"row": "Same identifier as row 3: keep one."}
    assert first.payload == {} and first.changes == {}
    assert first.cells == ["ann@example.com", "Ann", "Lee"]
    assert counts(run) == (0, 1, 0, 2, 3)
    # The same as a preview built from a file with both rows in it.
    fixed = fingerprint(run)
    rebuild(run)
    assert fingerprint(run) == fixed


def test_a_fix_that_settles_a_duplicate_gives_the_other_row_its_class_back(redflag, admin_user):
    mirrored(redflag, "kim@example.com", firstName="Kim", lastName="Known")
    text = (
        "email,firstName,lastName\r\n"
        "kim@example.com,Kimberly,Known\r\n"  # row 2: an update, but repeated by row 3
        "KIM@example.com,Tim,Known\r\n"  # row 3: meant tim@
        "zed@example.com,Zed,Zed\r\n"
    )
    run = start(redflag, admin_user, text)
    assert [rows(run)[n].kind for n in (2, 3)] == ["invalid", "invalid"]
    assert counts(run) == (1, 0, 0, 2, 3)

    row = fix(run, 3, 0, "tim@example.com", admin_user)

    assert row.kind == "create"
    first = rows(run)[2]
    assert first.kind == "update"
    assert first.errors == {}
    assert first.changes == {"firstName": ["Kim", "Kimberly"]}
    assert first.remote_id == "rid-kim@example.com"
    assert first.cells == ["kim@example.com", "Kimberly", "Known"]  # the first row keeps them
    assert counts(run) == (2, 1, 0, 0, 3)
    fixed = fingerprint(run)
    rebuild(run)
    assert fingerprint(run) == fixed


def test_a_settled_duplicate_keeps_its_own_errors(redflag, admin_user):
    """The other row was invalid for more than the repeat: it stays invalid, for the rest."""
    text = (
        "email,firstName,lastName,country\r\n"
        "a@example.com,A,A,Atlantis\r\na@example.com,B,B,Norway\r\n"
    )
    run = start(redflag, admin_user, text)
    assert set(rows(run)[2].errors) == {"3", "row"}

    fix(run, 3, 0, "b@example.com", admin_user)

    first = rows(run)[2]
    assert first.kind == "invalid"
    assert set(first.errors) == {"3"}
    assert rows(run)[3].kind == "create"


def test_three_rows_of_one_identifier_stay_invalid_until_one_is_left(redflag, admin_user):
    text = "email,firstName,lastName\r\n" + "".join(f"a@example.com,A,L{i}\r\n" for i in range(3))
    run = start(redflag, admin_user, text)

    fix(run, 3, 0, "b@example.com", admin_user)  # the first repeat leaves
    assert {n: r.errors.get("row") for n, r in rows(run).items()} == {
        2: "Same identifier as row 4: keep one.",
        3: None,
        4: "Same identifier as row 2: keep one.",
    }
    assert counts(run) == (1, 0, 0, 2, 3)
    fix(run, 4, 0, "c@example.com", admin_user)
    assert [r.kind for r in rows(run).values()] == ["create"] * 3
    assert counts(run) == (3, 0, 0, 0, 3)


def test_a_fix_that_makes_a_duplicate_of_a_fixed_row_is_caught(run, admin_user):
    text = "email,firstName,lastName\r\nbad1,A,A\r\nbad2,B,B\r\n"
    run = start(run.connection, admin_user, text)
    fix(run, 2, 0, "same@example.com", admin_user)
    row = fix(run, 3, 0, "same@example.com", admin_user)
    assert row.kind == "invalid" and row.errors == {"row": "Same identifier as row 2: keep one."}
    assert rows(run)[2].errors == {"row": "Same identifier as row 3: keep one."}
    assert counts(run) == (0, 0, 0, 2, 2)


def test_confirming_sends_the_fixed_value(run, admin_user):
    fix(run, 3, 0, "bob@example.com", admin_user)

    job = services.import_confirm(import_run=run, user=admin_user)

    items = dict(SyncItem.objects.filter(job=job).values_list("identifier", "payload"))
    assert items["bob@example.com"] == {
        "email": "bob@example.com",
        "firstName": "Bob",
        "lastName": "Marsh",
    }
    assert job.total == 3


def test_a_fix_is_audited_with_the_row_the_column_before_and_after(run, admin_user):
    fix(run, 3, 0, "bob@example.com", admin_user)

    event = AuditEvent.objects.get(action="import.cell_fixed")
    assert event.actor == admin_user
    assert event.target_id == str(run.pk)
    assert event.summary == "Row 3 of people.csv, email: the row is now create"
    assert event.changes == {
        "Row 3, email (column 1)": {"before": "bob(at)example.com", "after": "bob@example.com"}
    }


def test_the_same_value_again_changes_and_records_nothing(run, admin_user):
    row = fix(run, 3, 0, "bob(at)example.com", admin_user)
    assert row.kind == "invalid"
    run.refresh_from_db()
    assert run.fixes == {}
    assert not AuditEvent.objects.filter(action="import.cell_fixed").exists()


@pytest.mark.parametrize(
    ("number", "column", "value", "message"),
    [
        (9, 0, "x@example.com", "There is no row 9 in this preview."),
        (2, 0, "x@example.com", "Row 2 is not invalid (it is “Create”)"),
        (3, 3, "x@example.com", "There is no column 4: the file has 3."),
        (3, -1, "x@example.com", "There is no column 0: the file has 3."),
        (3, 0, "x" * 1001, "A cell holds at most 1,000 characters; this value has 1,001."),
        (3, 0, "bob@example.com\x00", "The value contains a NUL character"),
    ],
)
def test_a_cell_that_cannot_be_fixed_says_why_and_changes_nothing(
    run, admin_user, number, column, value, message
):
    before = fingerprint(run)
    with pytest.raises(
        services.CellFixError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        fix(run, number, column, value, admin_user)
    assert fingerprint(run) == before
    run.refresh_from_db()
    assert run.fixes == {}
    assert not AuditEvent.objects.filter(action="import.cell_fixed").exists()


def test_a_ragged_row_is_fixed_in_the_file(redflag, admin_user):
    run = start(redflag, admin_user, "email,firstName\r\na@example.com\r\n")
    with pytest.raises(services.CellFixError, match="has 1 cells but the header has 2"):
        fix(run, 2, 0, "a@example.com", admin_user)


@pytest.mark.parametrize("role", ["support", "manager"])
def test_only_an_admin_fixes_a_cell(run, role):
    with pytest.raises(PermissionDenied, match="You need the HR admin role"):
        fix(run, 3, 0, "bob@example.com", UserFactory(role=role))
    assert rows(run)[3].kind == "invalid"


def test_a_confirmed_or_discarded_import_is_not_fixed(run, admin_user):
    fix(run, 3, 0, "bob@", admin_user)
    services.import_confirm(import_run=run, user=admin_user)
    with pytest.raises(services.ImportStateError, match="This import is confirmed"):
        fix(run, 3, 0, "bob@example.com", admin_user)
    other = start(run.connection, admin_user)
    services.import_discard(import_run=other, user=admin_user)
    with pytest.raises(services.ImportStateError, match="This import is discarded"):
        fix(other, 3, 0, "bob@example.com", admin_user)


def test_a_fix_on_an_out_of_date_preview_is_kept_and_the_preview_must_still_be_refreshed(
    run, redflag, admin_user
):
    """The row is checked against the recipients as they are now, but the rest of the
    preview is not: confirming still asks for a refresh, which applies the fix again."""
    mirrored(redflag, "bob@example.com", firstName="Bob", lastName="Marsh")
    redflag.mirror_refreshed_at = timezone.now()  # after the preview was built
    redflag.save()

    row = fix(run, 3, 0, "bob@example.com", admin_user)

    assert row.kind == "unchanged"  # against the mirror as it is now
    with pytest.raises(services.ImportStateError, match="Refresh the preview"):
        services.import_confirm(import_run=run, user=admin_user)
    rebuild(run)
    assert rows(run)[3].kind == "unchanged"
    assert counts(run) == (1, 1, 1, 0, 3)
    services.import_confirm(import_run=run, user=admin_user)


def test_a_preview_being_built_is_not_fixed(run, admin_user):
    Import.objects.filter(pk=run.pk).update(status="parsing")
    with pytest.raises(services.CellFixError, match="The preview is being built"):
        fix(run, 3, 0, "bob@example.com", admin_user)


def test_a_fix_applies_to_a_large_file_read_in_batches(redflag, admin_user, monkeypatch):
    """The fixed row and the row it repeats in another batch, read back from the file."""
    monkeypatch.setattr(services, "ROW_BATCH", 3)
    lines = ["email,firstName,lastName"] + [f"p{i}@example.com,P{i},L" for i in range(10)]
    lines[8] = "nope,P7,L"  # row 9
    run = start(redflag, admin_user, "\r\n".join(lines))
    row = fix(run, 9, 0, "p1@example.com", admin_user)  # row 3's identifier
    assert row.kind == "invalid"
    assert rows(run)[3].cells == ["p1@example.com", "P1", "L"]
    assert rows(run)[3].errors == {"row": "Same identifier as row 9: keep one."}
    fixed = fingerprint(run)
    rebuild(run)
    assert fingerprint(run) == fixed


# -- on the page ----------------------------------------------------------------------------

HTMX = {"HX-Request": "true", "HX-Target": "row-3"}


def post_fix(client, run: Import, number: int, data: dict, htmx: bool = True):
    return client.post(f"/imports/{run.pk}/rows/{number}/fix/", data, headers=HTMX if htmx else {})


def test_the_preview_offers_an_editor_for_each_problem_cell(admin_client, run):
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    action = f"/imports/{run.pk}/rows/3/fix/"
    assert f'action="{action}" hx-post="{action}" hx-target="closest tr"' in page
    assert 'Edit email<span class="visually-hidden"> of row 3</span></summary>' in page
    assert '<label for="fix-3-0">New email' in page
    assert 'id="fix-3-0" name="value" value="bob(at)example.com" maxlength="1000"' in page
    assert '<input type="hidden" name="column" value="0">' in page
    assert 'src="/static/js/import_fix.js" defer nonce=' in page
    # Only the invalid row has one.
    assert page.count('class="cell-fix"') == 1


def test_a_duplicate_row_is_fixed_in_its_identifier_cell(admin_client, redflag, admin_user):
    run = start(redflag, admin_user, "email,firstName,lastName\r\na@x.io,A,A\r\na@x.io,B,B\r\n")
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert 'id="fix-2-0"' in page and 'id="fix-3-0"' in page


def test_a_fix_with_htmx_answers_with_the_row_in_its_class_and_the_counts(admin_client, run):
    response = post_fix(admin_client, run, 3, {"column": "0", "value": " bob@example.com "})

    assert response.status_code == 200
    body = response.content.decode()
    row = body.split("</tr>")[0]
    assert row.lstrip().startswith('<tr id="row-3" class="row-create" tabindex="-1" autofocus>')
    assert '<span class="badge kind-create">Create</span>' in row
    assert "bob@example.com" in row
    assert "Fixed in the preview: <strong>email</strong> <q>bob@example.com</q>" in row
    assert 'class="cell-fix"' not in row
    assert '<dl id="import-stats" class="stats import-stats" hx-swap-oob="true">' in body
    assert '<dd class="count-create">2</dd>' in body
    assert '<dd class="count-invalid">0</dd>' in body
    assert 'Invalid <span class="tab-count">0</span>' in body
    assert "Confirm: send 3 rows to Acme RedFlag" in body
    assert "Download the" not in body  # the invalid rows' link went with the last of them
    assert (
        '<p id="fix-status" hx-swap-oob="innerHTML">Row 3 fixed: it will create a recipient.</p>'
        in body
    )
    assert rows(run)[3].cells == ["bob@example.com", "Bob", "Marsh"]


def test_a_refused_value_opens_the_editor_again_with_the_reason(admin_client, run):
    response = post_fix(admin_client, run, 3, {"column": "0", "value": "x" * 1001})

    assert response.status_code == 422
    body = response.content.decode()
    assert '<details class="cell-fix" open>' in body
    assert 'aria-describedby="fix-3-0-error fix-3-0-help" aria-invalid="true" autofocus' in body
    assert (
        '<p class="error-text" id="fix-3-0-error">A cell holds at most 1,000 characters; '
        "this value has 1,001.</p>"
    ) in body
    assert f'value="{"x" * 1001}"' in body  # what was typed, to shorten
    assert '<p id="fix-status" hx-swap-oob="innerHTML"></p>' in body
    assert rows(run)[3].cells[0] == "bob(at)example.com"


def test_a_nul_byte_is_refused_in_words(admin_client, run, admin_user):
    # The request never reaches the view (RefuseNulMiddleware answers it)...
    response = post_fix(admin_client, run, 3, {"column": "0", "value": "bob@example.com\x00"})
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    response = post_fix(admin_client, run, 3, {"column": "0", "value": "a\x00"}, htmx=False)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert rows(run)[3].cells[0] == "bob(at)example.com"
    # ...and the service refuses one in words of its own, whoever calls it.
    with pytest.raises(services.CellFixError, match="The value contains a NUL character"):
        services.import_fix_cell(import_run=run, number=3, column=0, value="a\x00", user=admin_user)


def test_a_fix_that_settles_a_duplicate_swaps_the_other_row_of_the_page_too(
    admin_client, redflag, admin_user
):
    text = "email,firstName,lastName\r\na@x.io,A,A\r\nA@x.io,B,B\r\nz@x.io,Z,Z\r\n"
    run = start(redflag, admin_user, text)

    response = post_fix(admin_client, run, 3, {"column": "0", "value": "b@x.io", "rows": ""})

    body = response.content.decode()
    assert '<tr id="row-3" class="row-create" tabindex="-1" autofocus>' in body
    assert '<tr id="row-2" class="row-create" tabindex="-1" hx-swap-oob="true">' in body
    assert '<tr id="row-4"' not in body  # unchanged: not sent again
    assert "Row 3 fixed: it will create a recipient. Row 2 is now create." in body


def test_without_javascript_a_fix_goes_back_to_the_row_on_its_tab(admin_client, run):
    response = post_fix(
        admin_client, run, 3, {"column": "0", "value": "bob@example.com", "rows": "invalid"},
        htmx=False,
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{run.pk}/?rows=invalid#row-3"
    page = admin_client.get(response["Location"]).content.decode()
    assert "Row 3 fixed: it will create a recipient." in page
    assert '<dd class="count-create">2</dd>' in page


@pytest.mark.parametrize(
    ("number", "data", "status", "message"),
    [
        (9, {"column": "0", "value": "x"}, 409, "There is no row 9 in this preview."),
        (3, {"column": "7", "value": "x"}, 422, "There is no column 8: the file has 3."),
        (3, {"value": "x"}, 422, "Choose a cell of the row and type its new value."),
        (2, {"column": "0", "value": "x"}, 422, "Row 2 is not invalid"),
    ],
)
def test_bad_fixes_answer_in_words(admin_client, run, number, data, status, message):
    response = post_fix(admin_client, run, number, data)
    assert response.status_code == status
    assert message in response.content.decode()
    response = post_fix(admin_client, run, number, data, htmx=False)
    assert response.status_code == 302
    assert message in admin_client.get(response["Location"]).content.decode()


def test_the_invalid_rows_csv_lists_the_rows_still_invalid_as_fixed(
    admin_client, redflag, admin_user
):
    text = (
        "email,firstName,lastName,country\r\n"
        "bad1,A,A,Norway\r\n"  # fixed: valid
        "bad2,B,B,Atlantis\r\n"  # fixed twice, and still invalid for its country
        "bad3,C,C,Atlantis\r\n"  # not fixed
    )
    run = start(redflag, admin_user, text)
    fix(run, 2, 0, "a@x.io", admin_user)
    fix(run, 3, 3, "Narnia", admin_user)
    fix(run, 3, 0, "b@x.io", admin_user)

    response = admin_client.get(f"/imports/{run.pk}/invalid.csv")

    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "email,firstName,lastName,country,Errors"
    assert lines[1].startswith("b@x.io,B,B,Narnia,country: ")
    assert lines[2].startswith("bad3,C,C,Atlantis,email: ")
    assert len(lines) == 3


@pytest.mark.parametrize("role", ["support", "manager"])
def test_support_and_managers_cannot_fix_a_cell_on_the_page(role_clients, run, role):
    for htmx in (True, False):
        response = post_fix(role_clients[role], run, 3, {"column": "0", "value": "b@x.io"}, htmx)
        assert response.status_code == 403
        assert "You need the HR admin role to upload CSV imports" in response.content.decode()
    assert rows(run)[3].kind == "invalid"
    run.refresh_from_db()
    assert run.fixes == {}


def test_a_new_recipient_missing_a_needed_field_is_fixed_in_its_empty_cell(
    admin_client, redflag, admin_user
):
    run = start(redflag, admin_user, "email,firstName,lastName\r\nann@x.io,,Lee\r\n")
    assert "needs First name" in rows(run)[2].errors["row"]
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert 'id="fix-2-1" name="value" value=""' in page
    assert 'id="fix-2-0"' not in page and 'id="fix-2-2"' not in page  # filled in: not offered

    body = post_fix(admin_client, run, 2, {"column": "1", "value": "Ann"}).content.decode()

    assert '<tr id="row-2" class="row-create"' in body


def test_a_fix_on_an_out_of_date_preview_says_it_must_still_be_refreshed(
    admin_client, run, redflag
):
    redflag.mirror_refreshed_at = timezone.now()
    redflag.save()
    body = post_fix(admin_client, run, 3, {"column": "0", "value": "b@x.io"}).content.decode()
    assert (
        "Row 3 fixed: it will create a recipient. The preview is out of date: refresh it before "
        "confirming (it keeps your fixes)."
    ) in body
    assert 'type="submit" disabled>Confirm: send 3 rows' in body
    page = admin_client.get(f"/imports/{run.pk}/").content.decode()
    assert "Refresh it before confirming (it keeps the cells you fixed)." in page
