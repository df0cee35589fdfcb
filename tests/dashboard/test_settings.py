"""Settings come from the environment; production refuses to start without what it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DEBUG",
            "DEMO",
            "SECRET_KEY",
            "CREDENTIAL_KEYS",
            "ALLOWED_HOSTS",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    base["VAR_DIR"] = str(tmp_path)
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "x" * 60 + "-production-secret-key-for-tests",
        "ALLOWED_HOSTS": "dashboard.example.com",
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(),
    }
    env.update(overrides)
    return env


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "CREDENTIAL_KEYS"])
def test_production_refuses_to_start_without_a_required_setting(missing, tmp_path):
    env = production_env()
    del env[missing]
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert missing in result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_credential_key_is_named_by_position_not_echoed(tmp_path):
    good = Fernet.generate_key().decode()
    env = production_env(CREDENTIAL_KEYS=f"{good},not-a-real-key-value")
    result = run_manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "CREDENTIAL_KEYS entry 2 is not a valid Fernet key" in result.stderr
    assert "not-a-real-key-value" not in result.stderr + result.stdout
    assert good not in result.stderr + result.stdout


def test_a_non_boolean_debug_value_is_refused(tmp_path):
    result = run_manage("check", env=production_env(DEBUG="maybe"), tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_check_deploy_passes_in_production_mode_with_no_warning(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(), tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_mode_generates_its_own_secrets_once(tmp_path):
    first = run_manage("check", env={"DEBUG": "true"}, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    secrets_file = tmp_path / "dev-secrets.json"
    content = secrets_file.read_text()
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    run_manage("check", env={"DEBUG": "true"}, tmp_path=tmp_path)
    assert secrets_file.read_text() == content


def test_production_sends_security_headers(client, settings):
    """CSP, HSTS, nosniff and frame denial are on every response."""
    response = client.get("/accounts/login/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self' 'nonce-" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def settings_options(tmp_path: Path, **env: str) -> str:
    code = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS'))"
    result = run_manage("shell", "-c", code, env={"DEBUG": "true", **env}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler(tmp_path):
    url = "postgres://postgres@127.0.0.1:5432/anything"
    assert "'prepare_threshold': 5" in settings_options(tmp_path, DATABASE_URL=url)
    off = settings_options(tmp_path, DATABASE_URL=url, DB_PREPARED_STATEMENTS="false")
    assert "prepare_threshold" not in off and "server_side_binding" not in off


def test_what_a_task_prints_is_logged_as_information_not_as_a_warning():
    # The console mail backend (development, the demo) prints mail from the worker: logged at
    # WARNING by default, a job's notification looked like a problem in the demo's output.
    import logging
    import logging.config

    from django.conf import settings

    from dashboard.celery import app

    assert app.conf.worker_redirect_stdouts_level == "INFO"
    # The demo's worker runs with --loglevel WARNING, which sets the root logger's level: the
    # logger has its own level, so its INFO records still reach the console.
    root = logging.getLogger()
    saved = root.level
    try:
        logging.config.dictConfig(settings.LOGGING)
        root.setLevel(logging.WARNING)
        assert logging.getLogger("celery.redirected").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(saved)
