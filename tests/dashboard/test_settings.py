"""Settings come from the environment; production refuses to start without what it needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def run_manage(
    *args: str, env: dict[str, str], tmp_path: Path, unset: list[str] | None = None
) -> subprocess.CompletedProcess:
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
    for name in unset or []:
        base.pop(name, None)
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


def settings_of(tmp_path: Path, *names: str, **env: str) -> dict:
    """The named settings as a process started with ``env`` (over DEBUG=true) reads them.

    The database, broker and session-cache variables of this run are left out unless given.
    """
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    plain = {"DATABASE_URL": "", "CELERY_BROKER_URL": "", "DB_POOL": "false"}
    result = run_manage(
        "shell",
        "-c",
        code,
        env={"DEBUG": "true", **plain, **env},
        tmp_path=tmp_path,
        unset=[name for name in ("SESSION_CACHE_URL",) if name not in env],
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/anything"


def test_postgresql_is_django_s_own_backend_with_health_checks_and_prepared_statements(
    tmp_path,
):
    db = settings_of(tmp_path, "DATABASES", DATABASE_URL=POSTGRES_URL)["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["CONN_MAX_AGE"] == 60
    assert db["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}
    assert "pool" not in db["OPTIONS"]


def test_the_prepare_threshold_comes_from_the_environment(tmp_path):
    db = settings_of(tmp_path, "DATABASES", DATABASE_URL=POSTGRES_URL, DB_PREPARE_THRESHOLD="2")
    assert db["DATABASES"]["default"]["OPTIONS"]["prepare_threshold"] == 2


def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler(tmp_path):
    off = settings_of(
        tmp_path, "DATABASES", DATABASE_URL=POSTGRES_URL, DB_PREPARED_STATEMENTS="false"
    )["DATABASES"]["default"]["OPTIONS"]
    assert "prepare_threshold" not in off and "server_side_binding" not in off


def test_the_pool_is_django_s_and_turns_persistent_connections_off(tmp_path):
    db = settings_of(
        tmp_path, "DATABASES", DATABASE_URL=POSTGRES_URL, DB_POOL="true", DB_POOL_MAX_SIZE="12"
    )["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert db["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 12, "timeout": 10}
    assert db["OPTIONS"]["prepare_threshold"] == 5
    assert db["CONN_MAX_AGE"] == 0 and db["CONN_HEALTH_CHECKS"] is True


def test_sqlite_has_no_pool_even_when_asked(tmp_path):
    db = settings_of(tmp_path, "DATABASES", DB_POOL="true")["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert "pool" not in db["OPTIONS"]


def test_sessions_are_cached_in_the_broker_s_redis_by_default(tmp_path):
    found = settings_of(
        tmp_path,
        "SESSION_ENGINE",
        "SESSION_CACHE_ALIAS",
        "CACHES",
        CELERY_BROKER_URL="redis://redis.internal:6379/2",
    )
    assert found["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"
    assert found["SESSION_CACHE_ALIAS"] == "sessions"
    assert found["CACHES"]["sessions"] == {
        "BACKEND": "dashboard.accounts.sessions.SessionCache",
        "LOCATION": "redis://redis.internal:6379/2",
        "MAX_TIMEOUT": 300,
    }
    # The other users of the cache keep each process's memory, whatever Redis does.
    assert found["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")


def test_sessions_can_have_a_redis_of_their_own_or_none(tmp_path):
    own = settings_of(
        tmp_path,
        "CACHES",
        CELERY_BROKER_URL="redis://broker:6379/0",
        SESSION_CACHE_URL="redis://sessions:6379/1",
    )
    assert own["CACHES"]["sessions"]["LOCATION"] == "redis://sessions:6379/1"
    none = settings_of(
        tmp_path,
        "SESSION_ENGINE",
        "CACHES",
        CELERY_BROKER_URL="redis://b:6379/0",
        SESSION_CACHE_URL="",
    )
    assert none["SESSION_ENGINE"] == "django.contrib.sessions.backends.db"
    assert "sessions" not in none["CACHES"]


def test_the_embedded_default_keeps_sessions_in_the_database(tmp_path):
    found = settings_of(tmp_path, "SESSION_ENGINE", "CACHES")
    assert found["SESSION_ENGINE"] == "django.contrib.sessions.backends.db"
    assert set(found["CACHES"]) == {"default"}


def test_a_session_cache_url_that_is_not_redis_is_refused_without_echoing_it(tmp_path):
    secret = "memcached://user:hunter2@cache:11211"
    result = run_manage(
        "check", env={"DEBUG": "true", "SESSION_CACHE_URL": secret}, tmp_path=tmp_path
    )
    assert result.returncode != 0
    assert "SESSION_CACHE_URL must be a redis://" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


# -- the database connections, on PostgreSQL --------------------------------------------------


@pytest.fixture
def between_requests(transactional_db):
    """PostgreSQL in autocommit, as between requests (a test transaction would be dropped)."""
    from tests.helpers.postgres import require_postgresql

    require_postgresql()
    yield
    connection.close()  # whatever state a test left it in, the next one starts afresh


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_connection_the_server_dropped_is_replaced_before_a_request_uses_it(between_requests):
    """Django's health check (CONN_HEALTH_CHECKS): a restart or a firewall closing idle sockets
    does not fail the next request."""
    import psycopg
    from django.db import close_old_connections

    first = backend_pid()
    close_old_connections()  # the request ends
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [first])
    close_old_connections()  # the next one starts
    assert backend_pid() != first


def test_a_query_run_often_is_prepared_once_on_the_server(between_requests):
    """Server-side parameters with psycopg's prepare threshold: the fifth run of the same
    statement prepares it, and later runs execute it without PostgreSQL parsing it again."""
    from django.contrib.auth.models import Group

    for _ in range(6):
        list(Group.objects.filter(name="prepared-statement-probe"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    # Prepared with a placeholder ($1) where the value was: the text holds no value.
    assert any("auth_group" in s and "$1" in s for s in prepared), prepared
    assert not any("prepared-statement-probe" in s for s in prepared)


def test_with_the_pool_requests_borrow_the_same_checked_connection(tmp_path):
    """A real pooled process: two requests in turn get the pool's one connection back, and it
    keeps its prepared statements."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        from tests.helpers.environment import skip_or_fail

        skip_or_fail("DATABASE_URL is not PostgreSQL: set it to run the pool's test")
    code = (
        "from django.db import close_old_connections, connection\n"
        "pids = []\n"
        "for _ in range(7):\n"
        "    close_old_connections()\n"
        "    with connection.cursor() as c:\n"
        "        c.execute('SELECT pg_backend_pid() WHERE %s = 1', [1])\n"
        "        pids.append(c.fetchone()[0])\n"
        "    close_old_connections()\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SELECT count(*) FROM pg_prepared_statements')\n"
        "    prepared = c.fetchone()[0]\n"
        "print(type(connection.pool).__name__, len(set(pids)), prepared > 0)\n"
    )
    result = run_manage(
        "shell",
        "-c",
        code,
        env={
            "DEBUG": "true",
            "DATABASE_URL": url,
            "DB_POOL": "true",
            "DB_POOL_MIN_SIZE": "1",
            "DB_POOL_MAX_SIZE": "1",
        },
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ConnectionPool 1 True"


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
