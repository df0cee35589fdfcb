"""Roles (Django groups) and the capabilities each one grants.

A capability is a Django permission on the ``accounts`` app; views check capabilities, never
role names, so a role can change shape in one place (this module and its data migration).
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPPORT = "support"
    MANAGER = "manager"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "HR admin",
    Role.SUPPORT: "Support",
    Role.MANAGER: "Manager",
}


class Capability(enum.StrEnum):
    MANAGE_CONNECTIONS = "manage_connections"
    SEARCH_RECIPIENTS = "search_recipients"
    REFRESH_MIRROR = "refresh_mirror"
    EDIT_RECIPIENTS = "edit_recipients"
    CREATE_DELETE_RECIPIENTS = "create_delete_recipients"
    MANAGE_IMPORTS = "manage_imports"
    VIEW_JOBS = "view_jobs"
    MANAGE_JOBS = "manage_jobs"
    ACKNOWLEDGE_JOBS = "acknowledge_jobs"
    SEND_TEST_CAMPAIGNS = "send_test_campaigns"
    VIEW_AUDIT = "view_audit"

    @property
    def label(self) -> str:
        return CAPABILITY_LABELS[self]

    @property
    def perm(self) -> str:
        return f"accounts.{self.value}"


CAPABILITY_LABELS = {
    Capability.MANAGE_CONNECTIONS: "manage provider connections and field settings",
    Capability.SEARCH_RECIPIENTS: "look up recipients",
    Capability.REFRESH_MIRROR: "refresh the search's copy of a provider's recipients",
    Capability.EDIT_RECIPIENTS: "edit recipients' profile fields",
    Capability.CREATE_DELETE_RECIPIENTS: "create and delete recipients",
    Capability.MANAGE_IMPORTS: "upload CSV imports",
    Capability.VIEW_JOBS: "view sync history",
    Capability.MANAGE_JOBS: "start, cancel and retry sync jobs",
    Capability.ACKNOWLEDGE_JOBS: "acknowledge failed sync jobs",
    Capability.SEND_TEST_CAMPAIGNS: "send test campaign triggers",
    Capability.VIEW_AUDIT: "read the audit log",
}

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.ADMIN: frozenset(
        {
            Capability.MANAGE_CONNECTIONS,
            Capability.SEARCH_RECIPIENTS,
            Capability.REFRESH_MIRROR,
            Capability.EDIT_RECIPIENTS,
            Capability.CREATE_DELETE_RECIPIENTS,
            Capability.MANAGE_IMPORTS,
            Capability.VIEW_JOBS,
            Capability.MANAGE_JOBS,
            Capability.SEND_TEST_CAMPAIGNS,
            Capability.VIEW_AUDIT,
        }
    ),
    Role.SUPPORT: frozenset(
        {
            Capability.SEARCH_RECIPIENTS,
            Capability.REFRESH_MIRROR,
            Capability.EDIT_RECIPIENTS,
            Capability.VIEW_JOBS,
        }
    ),
    Role.MANAGER: frozenset(
        {Capability.VIEW_JOBS, Capability.ACKNOWLEDGE_JOBS, Capability.VIEW_AUDIT}
    ),
}


def roles_with(capability: Capability) -> list[Role]:
    return [role for role, caps in ROLE_CAPABILITIES.items() if capability in caps]
