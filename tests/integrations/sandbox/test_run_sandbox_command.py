"""``manage.py run_sandbox`` serves the sandbox and hands its credentials to ``make demo``."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _settings_module() -> str:
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    if importlib.util.find_spec(module.rpartition(".")[0] or module) is None:
        pytest.skip(f"{module} is not importable yet")
    return module


def test_run_sandbox_serves_and_writes_credentials(tmp_path: Path) -> None:
    credentials_path = tmp_path / "demo" / "sandbox-credentials.json"
    env = {
        "DEBUG": "true",  # development secrets, as the test settings use; the env may override
        **os.environ,
        "DJANGO_SETTINGS_MODULE": _settings_module(),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "django", "run_sandbox", "--port", "0", "--seed", "5",
               "--redflag-list", "paged", "--latency-ms", "1",
               "--write-credentials", str(credentials_path)]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        output: list[str] = []
        deadline = time.monotonic() + 60
        while not any(line.startswith("Credentials written") for line in output):
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(output)
            assert time.monotonic() < deadline, "".join(output)
            output.append(line)
        match = re.search(r"listening on (http://\S+)", "".join(output))
        assert match is not None
        url = match.group(1)

        assert stat.S_IMODE(credentials_path.stat().st_mode) == 0o600
        credentials = json.loads(credentials_path.read_text())
        assert set(credentials) == {"redflag", "snappy", "parcelvoy"}
        assert credentials["snappy"]["api_key"] in "".join(output)  # printed on start too

        reply = httpx.get(
            f"{url}/snappy/v2/accounts",
            headers={"X-Api-Key": credentials["snappy"]["api_key"]},
        )
        assert reply.status_code == 200
        assert len(reply.json()["results"]) == 5
        config = httpx.get(f"{url}/_control/config").json()
        assert config["variants"]["redflag_list"] == "paged"
        assert config["faults"]["latency_ms"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert process.returncode == 0
