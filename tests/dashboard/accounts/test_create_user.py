"""Management commands: create a user with a role."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_create_user_gives_exactly_one_role(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-passphrase\n"))
    out = io.StringIO()
    call_command("create_user", "hr1", "--role", "admin", "--password-stdin", stdout=out)
    user = get_user_model().objects.get(username="hr1")
    assert list(user.groups.values_list("name", flat=True)) == ["admin"]
    assert user.check_password("a-long-enough-passphrase")
    assert user.has_perm("accounts.manage_connections")
    assert "admin role" in out.getvalue()


def test_create_user_can_change_a_role(monkeypatch):
    for role in ("admin", "manager"):
        monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-passphrase\n"))
        call_command("create_user", "hr1", "--role", role, "--password-stdin", stdout=io.StringIO())
    user = get_user_model().objects.get(username="hr1")
    assert list(user.groups.values_list("name", flat=True)) == ["manager"]
    assert not user.has_perm("accounts.manage_connections")


@pytest.mark.parametrize(("password", "message"), [("", "cannot be empty"), ("123", "too short")])
def test_create_user_refuses_weak_passwords(monkeypatch, password, message):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    with pytest.raises(CommandError, match=message):
        call_command("create_user", "hr1", "--role", "support", "--password-stdin")
    assert not get_user_model().objects.filter(username="hr1").exists()


def test_create_user_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("create_user", "hr1", "--role", "superhero", "--password-stdin")


def test_roles_have_the_capabilities_the_design_gives_them():
    from django.contrib.auth.models import Group

    def caps(role):
        return set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))

    assert "manage_connections" in caps("admin")
    assert caps("support") == {
        "search_recipients",
        "refresh_mirror",
        "edit_recipients",
        "view_jobs",
    }
    assert caps("manager") == {"view_jobs", "acknowledge_jobs", "view_audit"}


def test_the_migrated_groups_grant_what_roles_py_says():
    """The role table is frozen in migrations; a change to roles.py needs one."""
    from django.contrib.auth.models import Group

    from dashboard.accounts.roles import ROLE_CAPABILITIES

    for role, capabilities in ROLE_CAPABILITIES.items():
        granted = Group.objects.get(name=role).permissions.values_list("codename", flat=True)
        assert set(granted) == {cap.value for cap in capabilities}, role
