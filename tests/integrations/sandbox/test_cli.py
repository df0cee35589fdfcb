"""The command-line options map onto the same config and credentials as the Python API."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path
from typing import Any

from integrations.sandbox.cli import (
    add_arguments,
    config_from_options,
    server_from_options,
    write_credentials,
)


def _options(*argv: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return vars(parser.parse_args(argv))


def test_flags_mirror_control_config() -> None:
    options = _options(
        "--latency-ms", "50", "--rate-429", "0.1", "--rate-429-without-retry-after", "0.05",
        "--rate-truncated", "0.01", "--timeout-seconds", "5", "--only", "snappy, redflag",
        "--redflag-auth-failure", "200", "--redflag-list", "paged",
        "--parcelvoy-success", "204", "--snappy-delete", "204", "--snappy-source", "string",
        "--snappy-rate-limit", "0", "--redflag-errors", "http", "--redflag-create", "201",
        "--snappy-update", "put_only", "--snappy-nested", "replace", "--retry-after", "date",
    )  # fmt: skip

    config = config_from_options(options).to_dict()

    assert config["faults"]["latency_ms"] == 50
    assert config["faults"]["rate_429"] == 0.1
    assert config["faults"]["rate_429_without_retry_after"] == 0.05
    assert config["faults"]["rate_truncated"] == 0.01
    assert config["faults"]["timeout_seconds"] == 5
    assert config["faults"]["only"] == ["snappy", "redflag"]
    assert config["variants"] == {
        "redflag_auth_failure": "200", "redflag_list": "paged", "redflag_errors": "http",
        "redflag_create": "201", "parcelvoy_success": "204", "snappy_delete": "204",
        "snappy_source": "string", "snappy_update": "put_only", "snappy_nested": "replace",
        "retry_after": "date", "snappy_rate_limit": 0,
    }  # fmt: skip


def test_defaults() -> None:
    options = _options()

    assert (options["host"], options["port"], options["seed"]) == ("127.0.0.1", 8765, 500)
    assert config_from_options(options).to_dict()["faults"]["rate_500"] == 0.0


def test_credentials_file_is_reused_when_it_exists(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    first = server_from_options(_options("--seed", "0", "--credentials", str(path)))
    write_credentials(path, first.credentials)

    second = server_from_options(_options("--seed", "0", "--credentials", str(path)))

    assert second.credentials == first.credentials


def test_credentials_are_written_owner_only_even_over_an_open_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "sandbox.json"
    path.parent.mkdir()
    path.write_text("{}")
    path.chmod(0o644)

    write_credentials(path, {"snappy": {"api_key": "x"}})

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"snappy": {"api_key": "x"}}


def test_compact_seed_fills_redflag_and_snappy() -> None:
    server = server_from_options(_options("--seed", "3", "--compact-seed", "1234"))

    state = server.state()

    assert state["redflag"]["recipients"] == state["snappy"]["recipients"] == 1234
    assert len(state["snappy"]["accounts"]) == 5  # the accounts stay
