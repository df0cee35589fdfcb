"""`make demo` prepares users per role and one working connection per provider."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard.connections.services import connection_test
from integrations.models import Connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]
ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(120)
def test_demo_seeds_one_user_per_role_and_connections_that_work(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    port = free_port()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    call_command("demo", "--no-serve", "--sandbox-port", str(port), "--seed", "20", stdout=out)
    banner = out.getvalue()
    assert "Sign in as:" in banner and "http://127.0.0.1:" in banner
    # Run inside this process, the command leaves its signal handling as it found it (an
    # ignored SIGINT would be inherited by every process started after it).
    assert signal.getsignal(signal.SIGINT) is handlers[signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is handlers[signal.SIGTERM]
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


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, their children...), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115 (a one-line read)
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]  # noqa: SIM115
    except OSError:
        return False
    return state != "Z"


@pytest.mark.worker
@pytest.mark.timeout(240)
def test_ctrl_c_stops_everything_the_demo_started_even_when_pressed_twice(tmp_path):
    """`make demo` promises that Ctrl-C stops the sandbox, the worker and the web server; a
    second Ctrl-C while they stop must not leave any of them running (holding the ports)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "CI"}
    }
    env |= {
        "DEMO": "true",  # the embedded defaults: SQLite and the filesystem broker, in tmp_path
        "VAR_DIR": str(tmp_path),
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
        "CELERY_QUEUE": f"demo-test-{uuid.uuid4().hex[:8]}",
    }
    web, sandbox = free_port(), free_port()
    demo = subprocess.Popen(
        [
            *(sys.executable, "manage.py", "demo", "--seed", "20"),
            *("--port", str(web), "--sandbox-port", str(sandbox)),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert demo.stdout is not None
        for line in iter(demo.stdout.readline, b""):
            output.append(line.decode(errors="replace"))
            if "Stop everything with Ctrl-C." in output[-1]:
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    started: set[int] = set()
    try:
        assert ready.wait(180), "the demo did not print its banner:\n" + "".join(output[-40:])
        assert httpx.get(f"http://127.0.0.1:{web}/healthz/", timeout=10).status_code == 200
        started = _descendants(demo.pid)
        assert len(started) >= 3, started  # sandbox, worker, web (and their own children)

        demo.send_signal(signal.SIGINT)
        time.sleep(0.3)
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)  # impatient: again, while the children stop
        demo.wait(timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(pid) for pid in started):
            time.sleep(0.2)
        assert not [pid for pid in started if _alive(pid)], "".join(output[-40:])
        for port in (web, sandbox):
            with socket.socket() as sock:
                assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        for pid in started | _descendants(demo.pid):  # orphans of a failed run too
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.sandbox
def test_the_demo_can_give_redflag_a_big_account(sandbox, bulk_seed):
    """``make demo REDFLAG_PEOPLE=100000``: the sandbox's RedFlag account is seeded in bulk
    (a refresh then fills the mirror with all of them); Snappy keeps its people."""
    from urllib.parse import urlsplit

    from dashboard.demo.management.commands.demo import Command
    from integrations.clients import RedFlagClient, client_for

    # bulk_seed puts the session's data back afterwards (the demo seeds through the same API).
    snappy_before = sandbox.state()["snappy"]["recipients"]
    out = io.StringIO()
    command = Command(stdout=out)
    port = urlsplit(sandbox.url).port
    assert port is not None
    command._seed_redflag_people(port, 2500)
    assert "holds 2,500 people" in out.getvalue()
    client = client_for(
        "redflag",
        base_url=f"{sandbox.url}/redflag",
        credentials=sandbox.credentials["redflag"],
        settings={},
        enabled_fields=(),
        rate_limit=None,
    )
    assert isinstance(client, RedFlagClient)
    try:
        assert len(list(client.iter_recipients())) == 2500
    finally:
        client.close()
    assert sandbox.state()["snappy"]["recipients"] == snappy_before
