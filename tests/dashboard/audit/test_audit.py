"""The audit log lists every change for admins and managers, filterable and paginated."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dashboard.audit.models import AuditEvent
from dashboard.audit.services import audit_record
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_admins_and_managers_see_events_newest_first(admin_client, manager_client, admin_user):
    conn = ConnectionFactory(name="Acme")
    audit_record(actor=admin_user, action="connection.created", target=conn, summary="first")
    audit_record(
        actor=admin_user,
        action="connection.updated",
        target=conn,
        summary="second",
        changes={"name": {"before": "Old", "after": "Acme"}},
    )
    for client in (admin_client, manager_client):
        page = client.get("/audit/").content.decode()
        assert page.index("second") < page.index("first")
        assert "Old → Acme" in page


def test_filters_by_action_actor_object_and_date(admin_client, admin_user, support_user):
    a = ConnectionFactory(name="Alpha")
    b = ConnectionFactory(name="Beta")
    audit_record(actor=admin_user, action="connection.created", target=a, summary="alpha made")
    audit_record(actor=support_user, action="field.enabled", target=b, summary="beta field")
    old = audit_record(actor=admin_user, action="field.disabled", target=a, summary="long ago")
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - dt.timedelta(days=40))

    def summaries(**params):
        page = admin_client.get("/audit/", params).content.decode()
        return {s for s in ("alpha made", "beta field", "long ago") if s in page}

    assert summaries(action="field.") == {"beta field", "long ago"}
    assert summaries(actor="sam") == {"beta field"}
    assert summaries(target="alp") == {"alpha made", "long ago"}
    since = (timezone.now() - dt.timedelta(days=7)).date().isoformat()
    assert summaries(since=since) == {"alpha made", "beta field"}


def test_actions_are_offered_by_kind_with_an_entry_for_all_of_a_kind(admin_client, admin_user):
    conn = ConnectionFactory(name="Alpha")
    audit_record(actor=admin_user, action="field.enabled", target=conn, summary="switched on")
    audit_record(actor=admin_user, action="field.disabled", target=conn, summary="switched off")
    audit_record(actor=admin_user, action="connection.created", target=conn, summary="set up")

    page = admin_client.get("/audit/", {"action": "field."}).content.decode()

    select = page[page.index('<select id="f-action"') : page.index("</select>")]
    assert '<optgroup label="Field settings">' in select
    assert '<option value="field." selected>All field settings</option>' in select
    assert '<option value="field.disabled">field.disabled</option>' in select
    assert '<optgroup label="Connections">' in select
    assert "switched on" in page and "switched off" in page and "set up" not in page


def test_an_action_filter_no_event_matches_yet_stays_chosen(admin_client, admin_user):
    conn = ConnectionFactory(name="Alpha")
    audit_record(actor=admin_user, action="connection.created", target=conn, summary="set up")

    page = admin_client.get("/audit/", {"action": "recipient."}).content.decode()

    select = page[page.index('<select id="f-action"') : page.index("</select>")]
    assert '<option value="recipient." selected>recipient.</option>' in select
    assert "No event matches these filters." in page


def test_a_bad_date_filter_says_so_instead_of_failing(admin_client):
    response = admin_client.get("/audit/", {"since": "yesterday", "until": "2026-13-45"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter a valid date." in page


def test_the_list_is_paginated(admin_client, admin_user):
    conn = ConnectionFactory()
    AuditEvent.objects.bulk_create(
        AuditEvent(actor_name="ada", action="x.y", target_repr=conn.name, summary=f"event {i}")
        for i in range(120)
    )
    page = admin_client.get("/audit/").content.decode()
    assert "Page 1 of 3" in page
    page3 = admin_client.get("/audit/", {"page": 3}).content.decode()
    assert "Page 3 of 3" in page3
    assert admin_client.get("/audit/", {"page": "banana"}).status_code == 200


def test_an_htmx_filter_returns_only_the_results_region(admin_client):
    response = admin_client.get("/audit/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results">')
    assert "<html" not in body


def test_the_empty_state_explains_itself(admin_client):
    assert "Nothing has been changed yet." in admin_client.get("/audit/").content.decode()


def test_recorded_values_are_shown_in_plain_words(admin_client, admin_user):
    conn = ConnectionFactory(name="Acme")
    audit_record(
        actor=admin_user,
        action="field.custom_added",
        target=conn,
        changes={
            "tags.z_team": {"before": None, "after": {"label": "Team", "enabled": True}},
            "is_active": {"before": True, "after": False},
        },
    )
    page = admin_client.get("/audit/").content.decode()
    assert "— → label: Team, enabled: on" in page
    assert "on → off" in page
    assert "{&#x27;label&#x27;" not in page and "True" not in page


def test_recorded_import_events_are_renamed_to_kind_dot_verb():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("dashboard.audit.migrations.0002_dotted_import_actions")
    AuditEvent.objects.bulk_create(
        AuditEvent(actor_name="ada", action=action, target_repr="hr.csv", summary=action)
        for action in ("import uploaded", "import mapping changed", "connection.created")
    )

    migration.dotted(apps, None)

    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "import.uploaded",
        "import.mapping_changed",
        "connection.created",
    }
    migration.spaced(apps, None)
    assert AuditEvent.objects.filter(action="import uploaded").exists()
