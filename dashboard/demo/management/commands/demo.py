"""``make demo``: everything on embedded defaults, in the foreground, until Ctrl-C.

Starts the provider sandbox, one Celery worker (with the beat schedule embedded; ``--workers
N`` or ``make demo WORKERS=N`` starts N, the first with the schedule) and the web server as
child processes, seeds one user per role and one connection per provider pointing at the
sandbox, and prints the URL and the logins. Ctrl-C (or SIGTERM) stops every child.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.accounts.roles import Role
from dashboard.accounts.services import user_create_with_role
from dashboard.connections.services import connection_test
from dashboard.core.models import WorkerHeartbeat
from dashboard.core.tasks import heartbeat
from dashboard.demo.demo_data import demo_connections_ensure, demo_jobs_start

DEMO_USERS = [
    (Role.ADMIN, "admin", "Ada Admin"),
    (Role.SUPPORT, "support", "Sam Support"),
    (Role.MANAGER, "manager", "Mia Manager"),
]


class Command(BaseCommand):
    help = "Run the demo: sandbox, Celery worker and web server, with demo users and data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument(
            "--sandbox-port", type=int, default=int(os.environ.get("SANDBOX_PORT", 8765))
        )
        parser.add_argument("--seed", type=int, default=500, help="Sandbox recipients per provider")
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("WORKERS") or 1),
            help="Celery workers to start (each consumes syncs, previews and housekeeping).",
        )
        parser.add_argument(
            "--redflag-people",
            type=int,
            default=int(os.environ.get("REDFLAG_PEOPLE") or 0),
            help="Give the sandbox's RedFlag account this many people instead of --seed "
            "(e.g. 100000, to watch a refresh of a big account fill the mirror).",
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="Prepare data and exit (used by tests)."
        )

    def handle(
        self,
        *args: Any,
        port: int,
        sandbox_port: int,
        seed: int,
        no_serve: bool,
        workers: int = 1,
        redflag_people: int = 0,
        **options: Any,
    ) -> None:
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        if redflag_people < 0:
            raise CommandError("--redflag-people must be 0 (the usual people) or more.")
        self.workers = workers
        self.redflag_people = redflag_people
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        # Who started the demo (make, a shell): when it is gone (a killed make), so is the demo.
        self.parent_pid = os.getppid()
        # Put back on the way out: the command also runs inside other processes (tests), whose
        # later children would inherit an ignored SIGINT from ``_stop_children``.
        previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
        for sig in previous:
            signal.signal(sig, _interrupt)
        try:
            self._run(port=port, sandbox_port=sandbox_port, seed=seed, no_serve=no_serve)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self, *, port: int, sandbox_port: int, seed: int, no_serve: bool) -> None:
        var = Path(settings.VAR_DIR)
        var.mkdir(parents=True, exist_ok=True)
        self.pid_file = var / "demo-children.json"
        _stop_leftovers(self.pid_file, self.stdout.write)
        _check_port_free(sandbox_port, "the provider sandbox", "SANDBOX_PORT")
        if not no_serve:
            _check_port_free(port, "the web server", "PORT")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        logins = self._seed_users(var / "demo-logins.json")
        try:
            sandbox_credentials = self._start_sandbox(var, sandbox_port, seed)
            if sandbox_credentials is not None and self.redflag_people:
                self._seed_redflag_people(sandbox_port, self.redflag_people)
            self._seed_connections(sandbox_credentials, sandbox_port)
            if no_serve:
                self._print_banner(port, logins, sandbox_port)
                return
            for number in range(1, self.workers + 1):
                self._start_worker(var, number)
            self._start_web(port)
            self._wait_for_worker()
            demo_jobs_start(self.demo_connections)
            self._print_banner(port, logins, sandbox_port)
            self._supervise()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            self._stop_children()

    # -- seeding ---------------------------------------------------------------------------
    def _seed_users(self, path: Path) -> dict[str, str]:
        """One user per role; passwords generated once per checkout and kept in var/."""
        if path.exists():
            logins = json.loads(path.read_text())
        else:
            logins = {username: secrets.token_urlsafe(9) for _, username, _ in DEMO_USERS}
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(logins, handle)
        for role, username, full_name in DEMO_USERS:
            user = user_create_with_role(
                username=username,
                password=logins[username],
                role=role,
                email=f"{username}@example.com",
                first_name=full_name.split()[0],
            )
            user.last_name = full_name.split()[1]
            user.save(update_fields=["last_name"])
        return logins

    def _seed_connections(self, credentials: dict[str, Any] | None, sandbox_port: int) -> None:
        self.demo_connections = []
        if not credentials:
            return
        self.demo_connections = demo_connections_ensure(
            base=f"http://127.0.0.1:{sandbox_port}", credentials=credentials
        )
        # Test each one now, as an admin would after connecting it: the overview opens on
        # their health instead of "Not tested yet".
        for connection in self.demo_connections:
            connection_test(connection=connection)

    # -- processes ---------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        # Own session: Ctrl-C reaches only this command, which then stops each child in order
        # with the signal that shuts it down gracefully.
        process = subprocess.Popen(
            argv, env=os.environ.copy(), start_new_session=True, preexec_fn=_end_with_parent
        )
        self.children.append((name, process))
        self.pid_file.write_text(
            json.dumps([{"pid": p.pid, "command": _command_of(p.pid)} for _, p in self.children])
        )
        return process

    def _start_sandbox(self, var: Path, port: int, seed: int) -> dict[str, Any] | None:
        if importlib.util.find_spec("integrations.sandbox") is None:
            self.stderr.write("The provider sandbox is not available; skipping it.")
            return None
        # The same file is read (if present) and written, so the sandbox keeps its keys across
        # demo restarts and the demo connections keep working.
        creds_path = var / "sandbox-credentials.json"
        started_at = time.time()
        self._spawn(
            "sandbox",
            [
                sys.executable,
                "manage.py",
                "run_sandbox",
                "--port",
                str(port),
                "--seed",
                str(seed),
                "--random-seed",
                "2026",
                "--credentials",
                str(creds_path),
                "--write-credentials",
                str(creds_path),
            ],
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self._check_children()
            if creds_path.exists() and creds_path.stat().st_mtime >= started_at - 1:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/_control/health", timeout=1)
                    if response.status_code == 200:
                        return json.loads(creds_path.read_text())
                except (httpx.HTTPError, json.JSONDecodeError):
                    pass
            time.sleep(0.2)
        raise CommandError(f"The sandbox did not start on port {port} within 30 seconds.")

    def _seed_redflag_people(self, port: int, count: int) -> None:
        """Replace the sandbox's RedFlag people with ``count`` compact ones (its control API)."""
        response = httpx.post(
            f"http://127.0.0.1:{port}/_control/seed",
            json={"count": count, "providers": ["redflag"]},
            timeout=120,
        )
        if response.status_code != 200:
            raise CommandError(
                f"The sandbox refused to seed {count} RedFlag people: {response.text[:300]}"
            )
        self.stdout.write(f"The sandbox's RedFlag account holds {count:,} people.")

    def _start_worker(self, var: Path, number: int = 1) -> None:
        """Start worker ``number``; the first also runs the schedule (one beat only).

        Each consumes every queue: the default one and one per kind of work. Four processes,
        so a job spread over three slots still leaves one for a preview.
        """
        routes = getattr(settings, "CELERY_TASK_ROUTES", {})
        queues = {settings.CELERY_TASK_DEFAULT_QUEUE, *(r["queue"] for r in routes.values())}
        beat = ["--beat", "--schedule", str(var / "celerybeat-schedule")] if number == 1 else []
        name = "worker" if number == 1 else f"worker {number}"
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dashboard",
                "worker",
                *beat,
                "--queues",
                ",".join(sorted(queues)),
                "--concurrency",
                "4",
                "--loglevel",
                "WARNING",
                "--hostname",
                f"demo-worker{'' if number == 1 else number}@%h",
            ],
        )

    def _start_web(self, port: int) -> None:
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "dashboard.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "--log-level",
                "warning",
            ],
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self._check_children()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz/", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise CommandError(f"The web server did not answer on port {port} within 30 seconds.")

    def _wait_for_worker(self) -> None:
        started = time.time()
        heartbeat.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self._check_children()
            if WorkerHeartbeat.objects.filter(seen_at__gte=_ts(started)).exists():
                self.stdout.write(self.style.SUCCESS("Celery worker answered."))
                return
            time.sleep(0.5)
        self.stderr.write("The Celery worker has not answered yet; syncs will wait for it.")

    def _check_children(self) -> None:
        if os.getppid() != self.parent_pid:
            # The command that started the demo ended (a killed make, a closed terminal's
            # shell): nobody is left to press Ctrl-C, so stop as if it had been pressed.
            self.stdout.write("\nThe command that started the demo has ended.")
            raise KeyboardInterrupt
        for name, process in self.children:
            code = process.poll()
            if code is not None:
                raise CommandError(f"The {name} process stopped (exit code {code}).")

    def _supervise(self) -> None:
        while True:
            self._check_children()
            time.sleep(1)

    def _stop_children(self) -> None:
        """Stop the children in the reverse order of their start, each gracefully, then kill
        whatever is left of its process group.

        The web server goes first (no new work), then the worker, whose running tasks may
        still be calling the sandbox, which goes last. A child that has not stopped in time is
        killed with its whole group: a Celery worker's pool processes and gunicorn's workers
        would otherwise outlive it, holding the ports.
        """
        # A second Ctrl-C while the children stop would abandon them mid-way: from here on,
        # signals are ignored until every child has ended.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        for name, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT.get(name, 10))
                except subprocess.TimeoutExpired:
                    self.stderr.write(f"The {name} did not stop in time; killing it.")
            # Each child leads its own session and process group (``_spawn``).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with contextlib.suppress(AttributeError, OSError):
            self.pid_file.unlink()

    def _print_banner(self, port: int, logins: dict[str, str], sandbox_port: int) -> None:
        lines = [
            "",
            "=" * 64,
            f"  Recipient dashboard: http://127.0.0.1:{port}/",
            "",
            "  Sign in as:",
        ]
        for role, username, _ in DEMO_USERS:
            lines.append(f"    {role.label:<10} user {username:<9} password {logins[username]}")
        lines += [
            "",
            f"  Provider sandbox:    http://127.0.0.1:{sandbox_port}/ (demo connections use it)",
            "  Stop everything with Ctrl-C.",
            "=" * 64,
            "",
        ]
        self.stdout.write("\n".join(lines))


# Ctrl-C, a kill, and a closed terminal all stop the demo and everything it started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# Seconds each child gets to stop gracefully before it is killed.
STOP_TIMEOUT = {"web": 10, "worker": 15, "sandbox": 5}
STOP_TIMEOUT.update({f"worker {n}": 15 for n in range(2, 17)})


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch - 1, tz=UTC)


def _end_with_parent() -> None:
    """In a child, before it runs: end it (SIGTERM) if the demo process dies, even by SIGKILL.

    Linux only (``prctl(PR_SET_PDEATHSIG)``); elsewhere the next ``make demo`` stops the
    leftovers it finds in ``var/demo-children.json``.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def _stop_leftovers(pid_file: Path, say: Any) -> None:
    """Stop what an earlier demo that did not end cleanly left running (its pid file says).

    A process id is used only while it still runs the command recorded for it, so a number
    the system has since given to another program is left alone.
    """
    try:
        entries = json.loads(pid_file.read_text())
        pids = [
            int(entry["pid"])
            for entry in entries
            if entry.get("command") and _command_of(int(entry["pid"])) == entry["command"]
        ]
    except (OSError, ValueError, TypeError, KeyError):
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)  # each child led its own process group
    if pids:
        say(f"Stopped {len(pids)} process(es) an earlier demo left running.")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_group_alive(pid) for pid in pids):
            time.sleep(0.2)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        pid_file.unlink()


def _command_of(pid: int) -> str:
    """The command line process ``pid`` runs ("" when it cannot be read)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        pass
    try:
        return subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _check_port_free(port: int, what: str, variable: str) -> None:
    """Refuse to start when ``port`` is taken, naming it and what to do."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise CommandError(
                f"Port {port}, for {what}, is already in use by another program. Stop it "
                f"(`ss -ltnp 'sport = :{port}'` names it), or choose another port: "
                f"`{variable}={port + 1} make demo`."
            ) from None
