"""The authentication backend reads a user's permissions in one query, with ModelBackend's
answers: own permissions, their groups' (roles'), everything for a superuser, nothing for an
inactive user."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from dashboard.accounts.backends import RoleBackend
from dashboard.accounts.permissions import has_capability
from dashboard.accounts.roles import ROLE_CAPABILITIES, Capability, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fresh(user):
    """The user as the next request loads it (no permission cache)."""
    return get_user_model().objects.get(pk=user.pk)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_its_capabilities(role):
    user = UserFactory(role=role.value)
    for capability in Capability:
        assert has_capability(fresh(user), capability) == (capability in ROLE_CAPABILITIES[role]), (
            capability
        )


def test_same_answers_as_model_backend_for_own_group_and_superuser_permissions():
    user = UserFactory(role=Role.SUPPORT.value)
    extra = Permission.objects.get(codename="view_audit")
    user.user_permissions.add(extra)
    group = Group.objects.create(name="extra-group")
    group.permissions.add(Permission.objects.get(codename="manage_imports"))
    user.groups.add(group)
    ours, django = RoleBackend(), ModelBackend()
    assert ours.get_all_permissions(fresh(user)) == django.get_all_permissions(fresh(user))
    assert {"accounts.view_audit", "accounts.manage_imports", "accounts.search_recipients"} <= (
        ours.get_all_permissions(fresh(user))
    )
    boss = UserFactory(is_superuser=True)
    assert ours.get_all_permissions(fresh(boss)) == django.get_all_permissions(fresh(boss))
    assert len(ours.get_all_permissions(fresh(boss))) == Permission.objects.count()


def test_an_inactive_user_has_no_permission():
    user = UserFactory(role=Role.ADMIN.value, is_active=False)
    assert RoleBackend().get_all_permissions(fresh(user)) == set()
    assert not has_capability(fresh(user), Capability.SEARCH_RECIPIENTS)


def test_one_query_per_request_whatever_the_number_of_checks(django_assert_num_queries):
    user = fresh(UserFactory(role=Role.ADMIN.value))
    with django_assert_num_queries(1):
        for capability in Capability:
            has_capability(user, capability)


def test_a_role_taken_away_applies_on_the_next_request():
    user = UserFactory(role=Role.ADMIN.value)
    assert has_capability(fresh(user), Capability.MANAGE_CONNECTIONS)
    user.groups.clear()
    assert not has_capability(fresh(user), Capability.MANAGE_CONNECTIONS)


def test_the_roles_shown_in_the_header_cost_no_query_after_a_permission_check(
    django_assert_num_queries,
):
    from dashboard.accounts.backends import user_group_names

    user = fresh(UserFactory(role=Role.SUPPORT.value))
    user.groups.add(Group.objects.create(name="a-group-without-permissions"))
    user = fresh(user)
    with django_assert_num_queries(1):
        assert has_capability(user, Capability.SEARCH_RECIPIENTS)
        assert user_group_names(user) == ["a-group-without-permissions", "support"]


def test_group_names_without_a_permission_check_are_read_once(django_assert_num_queries):
    from dashboard.accounts.backends import user_group_names

    user = fresh(UserFactory(role=Role.MANAGER.value))
    with django_assert_num_queries(1):
        assert user_group_names(user) == ["manager"]
        assert user_group_names(user) == ["manager"]
        assert has_capability(user, Capability.VIEW_JOBS)
    assert user_group_names(fresh(UserFactory(role=Role.ADMIN.value, is_active=False))) == ["admin"]


# -- the signed-in user of each request (get_user) ------------------------------------------


def test_get_user_reads_the_same_user_as_model_backend_in_one_query(django_assert_num_queries):
    user = UserFactory(role=Role.SUPPORT.value, first_name="Zoë", email="zoe@example.com")
    with django_assert_num_queries(1):
        ours = RoleBackend().get_user(str(user.pk))  # the session holds the id as text
    django = ModelBackend().get_user(user.pk)
    assert ours is not None and django is not None
    assert ours.__class__ is django.__class__
    fields = [f.attname for f in get_user_model()._meta.concrete_fields]
    assert [getattr(ours, f) for f in fields] == [getattr(django, f) for f in fields]
    assert ours._state.adding is False and ours._state.db == "default"
    assert ours.check_password("x") is False  # a full user: password hash read too


@pytest.mark.parametrize("user_id", ["0", "999999", "abc", "", None, "1; DROP TABLE auth_user"])
def test_get_user_of_an_id_that_is_no_user_is_none(user_id):
    UserFactory()
    assert RoleBackend().get_user(user_id) is None


def test_get_user_refuses_an_inactive_user_like_model_backend():
    user = UserFactory(role=Role.ADMIN.value, is_active=False)
    assert RoleBackend().get_user(user.pk) is None
    assert ModelBackend().get_user(user.pk) is None


def test_a_deactivated_or_deleted_user_is_signed_out_on_their_next_request(client):
    user = UserFactory(role=Role.SUPPORT.value)
    client.force_login(user, backend="dashboard.accounts.backends.RoleBackend")
    assert client.get("/recipients/").status_code == 200
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert client.get("/recipients/").status_code == 302  # to the sign-in page
    other = UserFactory(role=Role.SUPPORT.value)
    client.force_login(other, backend="dashboard.accounts.backends.RoleBackend")
    assert client.get("/recipients/").status_code == 200
    other.delete()
    assert client.get("/recipients/").status_code == 302


def test_capabilities_of_a_user_are_has_capability_for_each():
    from django.contrib.auth.models import AnonymousUser

    from dashboard.accounts.permissions import capabilities_of

    users = [UserFactory(role=role.value) for role in Role]
    users += [
        UserFactory(is_superuser=True),
        UserFactory(role=Role.ADMIN.value, is_active=False),
        UserFactory(is_superuser=True, is_active=False),
        UserFactory(),
    ]
    for user in [*map(fresh, users), AnonymousUser()]:
        expected = {c for c in Capability if has_capability(fresh_or(user), c)}
        assert capabilities_of(fresh_or(user)) == expected, user


def fresh_or(user):
    return fresh(user) if user.is_authenticated else user


def test_the_navigation_addresses_follow_the_site_s_place_on_the_server(client):
    from django.test import RequestFactory
    from django.urls import set_script_prefix

    from dashboard.accounts.context_processors import navigation

    user = fresh(UserFactory(role=Role.ADMIN.value))
    request = RequestFactory().get("/connections/")
    request.user = user
    try:
        set_script_prefix("/hr/")
        items = navigation(request)["nav_items"]
        assert {item["url"] for item in items} >= {"/hr/", "/hr/recipients/", "/hr/connections/"}
    finally:
        set_script_prefix("/")
    items = navigation(request)["nav_items"]
    assert [item["label"] for item in items if item["current"]] == ["Connections"]
    assert "/connections/" in {item["url"] for item in items}
