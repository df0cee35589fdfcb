"""Command-line options of the sandbox, shared by ``manage.py run_sandbox`` and
``python -m integrations.sandbox`` so the two can never drift apart."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from integrations.sandbox.config import FAULT_RATES, VARIANT_CHOICES, SandboxConfig
from integrations.sandbox.server import SandboxServer

DEFAULT_PORT = 8765


class Output(Protocol):
    """Where ``run`` reports: ``sys.stdout`` or a management command's ``self.stdout``."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options; fault and variant flags mirror ``/_control/config``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=500, help="fake recipients per provider")
    parser.add_argument(
        "--compact-seed",
        type=int,
        metavar="N",
        help="instead, N compact recipients each for RedFlag and Snappy (volume tests; "
        'also POST /_control/seed {"count": N})',
    )
    parser.add_argument("--random-seed", type=int, default=0, help="makes data repeatable")
    parser.add_argument(
        "--credentials",
        metavar="PATH",
        help="use the credentials in this JSON file if it exists (the shape "
        "--write-credentials writes), so a restarted sandbox keeps its keys",
    )
    parser.add_argument(
        "--write-credentials", metavar="PATH", help="write the credentials as JSON (mode 0600)"
    )
    parser.add_argument("--access-log", action="store_true", help="print every request")

    faults = parser.add_argument_group("faults (see /_control/config)")
    faults.add_argument("--latency-ms", type=float)
    faults.add_argument("--latency-jitter-ms", type=float)
    for rate in FAULT_RATES:
        faults.add_argument("--" + rate.replace("_", "-"), type=float, metavar="P")
    faults.add_argument("--timeout-seconds", type=float)
    faults.add_argument("--retry-after-seconds", type=int)
    faults.add_argument(
        "--only", metavar="PROVIDERS", help="comma-separated providers that faults apply to"
    )

    variants = parser.add_argument_group("variants")
    for name, choices in VARIANT_CHOICES.items():
        variants.add_argument("--" + name.replace("_", "-"), choices=choices)
    variants.add_argument("--snappy-rate-limit", type=int, help="requests/s; 0 = no limit")


def config_from_options(options: dict[str, Any]) -> SandboxConfig:
    """Build the starting config from parsed options (unset flags keep the defaults)."""
    fault_names = ["latency_ms", "latency_jitter_ms", *FAULT_RATES, "timeout_seconds",
                   "retry_after_seconds"]  # fmt: skip
    faults = {name: options[name] for name in fault_names if options.get(name) is not None}
    if options.get("only"):
        faults["only"] = [p.strip() for p in options["only"].split(",") if p.strip()]
    variant_names = [*VARIANT_CHOICES, "snappy_rate_limit"]
    variants = {name: options[name] for name in variant_names if options.get(name) is not None}
    return SandboxConfig().merged(faults=faults, variants=variants)


def server_from_options(options: dict[str, Any]) -> SandboxServer:
    credentials = None
    source = Path(options["credentials"]) if options.get("credentials") else None
    if source is not None and source.exists():
        credentials = json.loads(source.read_text(encoding="utf-8"))
    server = SandboxServer(
        host=options["host"],
        port=options["port"],
        seed=options["seed"],
        random_seed=options["random_seed"],
        credentials=credentials,
        config=config_from_options(options),
        log_requests=bool(options.get("access_log")),
    )
    if options.get("compact_seed") is not None:
        server.seed_recipients(options["compact_seed"])
    return server


def write_credentials(path: str | os.PathLike[str], credentials: dict[str, Any]) -> None:
    """Write the credentials readable by the owner only: they are real keys to the sandbox.

    The file appears complete or not at all (written aside, then renamed), because
    ``make demo`` polls for it while the sandbox starts.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a leftover file keeps its old mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(credentials, handle, indent=2)
        handle.write("\n")
    os.replace(partial, target)


def describe(server: SandboxServer) -> str:
    """Return the start banner: URLs, credentials and what is seeded."""
    creds, state = server.credentials, server.state()
    rf, sn, pv = creds["redflag"], creds["snappy"], creds["parcelvoy"]
    campaigns = ", ".join(
        f"{c['id']} {c['name']} ({c['channel']})" for c in state["parcelvoy"]["campaigns"]
    )
    accounts = ", ".join(f"{a['id']} {a['name']}" for a in state["snappy"]["accounts"])
    config = json.dumps(server.config.to_dict(), separators=(",", ":"))
    return "\n".join(
        [
            f"Provider sandbox listening on {server.url} "
            f"(seed {server.seed}, random seed {server.random_seed})",
            f"  RedFlag    {server.url}/redflag    token={rf['token']} "
            f"location_id={rf['location_id']}",
            f"  Snappy     {server.url}/snappy     api_key={sn['api_key']} "
            f"company_id={sn['company_id']}",
            f"  Parcelvoy  {server.url}/parcelvoy  secret_key={pv['secret_key']} "
            f"public_key={pv['public_key']} viewer_key={pv['viewer_key']}",
            f"  Snappy accounts: {accounts}",
            f"  Parcelvoy campaigns: {campaigns}",
            f"  Control: {server.url}/_control/(health|config|counters|state|reset|seed)",
            f"  Config: {config}",
        ]
    )


def run(options: dict[str, Any], out: Output, *, style: Callable[[str], str] = str) -> None:
    """Start the sandbox, print how to reach it, serve until SIGINT or SIGTERM."""
    server = server_from_options(options)
    stopping = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stopping.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    server.start()
    try:
        out.write(style(describe(server)) + "\n")
        if options.get("write_credentials"):
            write_credentials(options["write_credentials"], server.credentials)
            out.write(f"Credentials written to {options['write_credentials']}\n")
        out.flush()
        stopping.wait()
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.write("Sandbox stopped.\n")
    out.flush()
