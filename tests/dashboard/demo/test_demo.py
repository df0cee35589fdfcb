"""`make demo` prepares users per role and one working connection per provider."""

from __future__ import annotations

import contextlib
import io
import json
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
from django.core.management import CommandError, call_command

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
@pytest.mark.parametrize(
    "ending", ["ctrl-c twice", "terminal closed", "make killed", "demo killed"]
)
def test_however_the_demo_ends_everything_it_started_stops(tmp_path, ending):
    """`make demo` promises that Ctrl-C stops the sandbox, the worker and the web server; so
    must a second Ctrl-C while they stop, a closed terminal (SIGHUP), a killed ``make`` (the
    demo's parent gone) and a killed demo (SIGKILL: its children end with it), so the next
    ``make demo`` finds its ports free."""
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
    command = [
        *(sys.executable, "manage.py", "demo", "--seed", "20"),
        *("--port", str(web), "--sandbox-port", str(sandbox)),
    ]
    if ending == "make killed":  # a parent in make's place: the demo is its child
        command = ["sh", "-c", '"$@" & wait', "sh", *command]
    top = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert top.stdout is not None
        for line in iter(top.stdout.readline, b""):
            output.append(line.decode(errors="replace"))
            if "Stop everything with Ctrl-C." in output[-1]:
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    started: set[int] = set()
    try:
        assert ready.wait(180), "the demo did not print its banner:\n" + "".join(output[-40:])
        assert httpx.get(f"http://127.0.0.1:{web}/healthz/", timeout=10).status_code == 200
        started = _descendants(top.pid)
        assert len(started) >= 3, started  # sandbox, worker, web (and their own children)

        if ending == "ctrl-c twice":
            top.send_signal(signal.SIGINT)
            time.sleep(0.3)
            if top.poll() is None:
                top.send_signal(signal.SIGINT)  # impatient: again, while the children stop
        elif ending == "terminal closed":
            top.send_signal(signal.SIGHUP)
        else:  # "make killed" kills the demo's parent; "demo killed" the demo itself
            top.send_signal(signal.SIGKILL)
        top.wait(timeout=60)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and any(_alive(pid) for pid in started):
            time.sleep(0.2)
        assert not [pid for pid in started if _alive(pid)], "".join(output[-40:])
        for port in (web, sandbox):
            with socket.socket() as sock:
                assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    finally:
        if top.poll() is None:
            os.killpg(top.pid, signal.SIGKILL)
        for pid in started | _descendants(top.pid):  # orphans of a failed run too
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def test_a_port_in_use_is_named_with_what_to_do(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError) as refused:
            call_command("demo", "--no-serve", "--sandbox-port", str(port), stdout=io.StringIO())
    message = str(refused.value)
    assert f"Port {port}, for the provider sandbox, is already in use" in message
    assert f"SANDBOX_PORT={port + 1} make demo" in message


def test_what_an_earlier_demo_left_running_is_stopped(settings, tmp_path):
    """A demo that could not clean up (its process killed outright on a system without
    Linux's parent-death signal) left children; the next one stops exactly those."""
    settings.VAR_DIR = tmp_path
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    try:
        time.sleep(0.3)
        cmdline = Path(f"/proc/{leftover.pid}/cmdline").read_bytes()
        (tmp_path / "demo-children.json").write_text(
            json.dumps(
                [
                    {"pid": leftover.pid, "command": cmdline.replace(b"\0", b" ").decode().strip()},
                    # A recorded id now running something else is not touched.
                    {"pid": bystander.pid, "command": "celery -A dashboard worker"},
                ]
            )
        )
        out = io.StringIO()
        call_command("demo", "--no-serve", "--sandbox-port", str(free_port()), stdout=out)
        assert leftover.wait(timeout=20) is not None
        assert "Stopped 1 process(es) an earlier demo left running." in out.getvalue()
        assert bystander.poll() is None
    finally:
        for process in (leftover, bystander):
            process.kill()
            process.wait()


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
