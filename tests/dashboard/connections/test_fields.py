"""Field settings: toggles save at once, custom fields obey the provider's key rules."""

from __future__ import annotations

import pytest

from dashboard.audit.models import AuditEvent
from dashboard.connections.selectors import connection_enabled_fields
from integrations.catalogue import default_enabled_paths
from integrations.models import FieldSetting
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def redflag():
    return ConnectionFactory(provider="redflag")


@pytest.fixture
def snappy():
    return ConnectionFactory(provider="snappy")


def test_identity_fields_are_enabled_by_default_and_others_are_not(redflag, snappy):
    assert connection_enabled_fields(connection=redflag) == default_enabled_paths("redflag")
    assert {"email", "firstName", "lastName"} <= connection_enabled_fields(connection=redflag)
    assert "department" not in connection_enabled_fields(connection=redflag)
    assert {"email", "firstName", "lastName"} <= connection_enabled_fields(connection=snappy)


def test_the_page_lists_every_catalogue_field_grouped(admin_client, redflag):
    page = admin_client.get(f"/connections/{redflag.pk}/fields/").content.decode()
    for label in (
        "Identity",
        "Contact",
        "Work",
        "History",
        "Custom fields",
        "Mobile country code",
        "Hire date (SuccessFactors)",
        "YYYYMMDD",
    ):
        assert label in page


def test_an_htmx_toggle_saves_at_once_and_returns_the_row(admin_client, admin_user, redflag):
    response = admin_client.post(
        f"/connections/{redflag.pk}/fields/toggle/",
        {"path": "department", "enabled": "on"},
        headers=HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="field-department"' in body and "Saved" in body and "<html" not in body
    assert "department" in connection_enabled_fields(connection=redflag)
    event = AuditEvent.objects.get(action="field.enabled")
    assert event.changes == {"department": {"before": False, "after": True}}
    assert event.actor == admin_user


def test_unchecking_disables_an_identity_field(admin_client, redflag):
    admin_client.post(f"/connections/{redflag.pk}/fields/toggle/", {"path": "email"}, headers=HTMX)
    assert "email" not in connection_enabled_fields(connection=redflag)
    assert FieldSetting.objects.get(path="email").enabled is False


def test_a_toggle_to_the_same_state_records_nothing(admin_client, redflag):
    admin_client.post(
        f"/connections/{redflag.pk}/fields/toggle/",
        {"path": "email", "enabled": "on"},
        headers=HTMX,
    )
    assert not AuditEvent.objects.exists()


def test_an_unknown_field_path_is_refused_with_a_message(admin_client, redflag):
    response = admin_client.post(
        f"/connections/{redflag.pk}/fields/toggle/",
        {"path": "password", "enabled": "on"},
        headers=HTMX,
    )
    assert response.status_code == 400
    assert "not in the provider's catalogue" in response.content.decode()
    assert not FieldSetting.objects.exists()


def test_the_toggle_works_without_javascript(admin_client, redflag):
    response = admin_client.post(
        f"/connections/{redflag.pk}/fields/toggle/", {"path": "title", "enabled": "on"}
    )
    assert response.status_code == 302
    assert "title" in connection_enabled_fields(connection=redflag)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("costCentre", "must start with &quot;z_&quot;"),
        ("z_cost centre", "cannot contain spaces"),
        (" z_cost", "cannot contain spaces"),
        ("z_", "Use &quot;z_&quot; followed by"),
        ("z_cost-centre", "Use &quot;z_&quot; followed by"),
        ("", "This field is required."),
    ],
)
def test_redflag_custom_field_keys_must_start_with_z_and_have_no_spaces(
    admin_client, redflag, key, message
):
    response = admin_client.post(
        f"/connections/{redflag.pk}/fields/custom/",
        {"key": key, "label": "Cost centre"},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not FieldSetting.objects.exists()
    assert not AuditEvent.objects.exists()


def test_custom_fields_can_be_added_renamed_and_removed(admin_client, redflag):
    response = admin_client.post(
        f"/connections/{redflag.pk}/fields/custom/",
        {"key": "z_costCentre", "label": "Cost centre"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/connections/{redflag.pk}/fields/"
    assert "tags.z_costCentre" in connection_enabled_fields(connection=redflag)

    admin_client.post(
        f"/connections/{redflag.pk}/fields/custom/z_costCentre/",
        {"key": "z_costCenter", "label": "Cost center", "action": "rename"},
    )
    enabled = connection_enabled_fields(connection=redflag)
    assert "tags.z_costCenter" in enabled and "tags.z_costCentre" not in enabled

    admin_client.post(
        f"/connections/{redflag.pk}/fields/custom/z_costCenter/", {"action": "remove"}
    )
    assert not FieldSetting.objects.filter(custom=True).exists()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["field.custom_added", "field.custom_renamed", "field.custom_removed"]


def test_a_duplicate_custom_field_is_refused(admin_client, redflag):
    data = {"key": "z_team", "label": ""}
    admin_client.post(f"/connections/{redflag.pk}/fields/custom/", data, headers=HTMX)
    response = admin_client.post(f"/connections/{redflag.pk}/fields/custom/", data, headers=HTMX)
    assert response.status_code == 422
    assert "already exists" in response.content.decode()
    assert FieldSetting.objects.count() == 1


def test_renaming_to_a_bad_key_keeps_the_old_one(admin_client, redflag):
    admin_client.post(f"/connections/{redflag.pk}/fields/custom/", {"key": "z_team"}, headers=HTMX)
    response = admin_client.post(
        f"/connections/{redflag.pk}/fields/custom/z_team/",
        {"key": "team name", "action": "rename"},
        follow=True,
    )
    assert "cannot contain spaces" in response.content.decode()
    assert FieldSetting.objects.get(custom=True).path == "tags.z_team"


def test_snappy_custom_fields_need_no_prefix(admin_client, snappy):
    response = admin_client.post(
        f"/connections/{snappy.pk}/fields/custom/",
        {"key": "shirtSize", "label": "Shirt size"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "recipientCustomFields.shirtSize" in connection_enabled_fields(connection=snappy)


def test_parcelvoy_has_no_custom_fields(admin_client):
    conn = ConnectionFactory(provider="parcelvoy")
    response = admin_client.post(f"/connections/{conn.pk}/fields/custom/", {"key": "z_a"})
    assert response.status_code == 404
