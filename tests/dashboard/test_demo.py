"""`make demo` prepares users per role and one working connection per provider."""

from __future__ import annotations

import io
import socket

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard.connections.models import Connection
from dashboard.connections.services import connection_test

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(120)
def test_demo_seeds_one_user_per_role_and_connections_that_work(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    port = free_port()
    call_command("demo", "--no-serve", "--sandbox-port", str(port), "--seed", "20", stdout=out)
    banner = out.getvalue()
    assert "Sign in as:" in banner and "http://127.0.0.1:" in banner
    users = {u.username: {g.name for g in u.groups.all()} for u in get_user_model().objects.all()}
    assert users == {"admin": {"admin"}, "support": {"support"}, "manager": {"manager"}}
    assert (tmp_path / "demo-logins.json").exists()
    names = set(Connection.objects.values_list("name", flat=True))
    assert names == {"Demo RedFlag", "Demo Snappy", "Demo campaigns"}
    # Tested while the demo's sandbox ran: the overview opens on their health.
    assert set(Connection.objects.values_list("last_test_outcome", flat=True)) == {"ok"}
    # The sandbox has been stopped again: start one with the same keys and test them.
    import json

    from integrations.sandbox.server import SandboxServer

    creds = json.loads((tmp_path / "sandbox-credentials.json").read_text())
    with SandboxServer(port=port, seed=5, credentials=creds):
        for connection in Connection.objects.all():
            assert connection_test(connection=connection).last_test_outcome == "ok", connection
