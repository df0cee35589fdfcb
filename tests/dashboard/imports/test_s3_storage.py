"""Uploads in an S3 bucket (django-storages' S3Storage, configured from the environment as
production is) against moto's S3 server on loopback: stored, previewed by this process and
by a worker, removed on discard, and a missing object is a failed preview with a reason.

Needs boto3 and moto's ``moto_server`` (both in the dev dependencies ``make install``
installs); skipped without them, except under ``CI=true``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from dashboard.imports import services
from dashboard.imports.models import ImportStatus
from dashboard.settings import storage_from_environment
from tests.celery_fixtures import start_worker, wait_until
from tests.helpers.environment import skip_or_fail

try:
    import boto3  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - make install puts it there
    boto3 = None

pytestmark = pytest.mark.django_db(transaction=True)

BUCKET = "dashboard-uploads"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port; its endpoint URL."""
    if boto3 is None:
        skip_or_fail("boto3 is not installed: run make install (boto3 is a dev dependency)")
    # The virtual environment's own (make install puts moto there), else one on the PATH.
    beside = Path(sys.executable).with_name("moto_server")
    server = str(beside) if beside.exists() else shutil.which("moto_server")
    if server is None:
        skip_or_fail(
            "moto_server is not installed: run make install (moto[server] is a dev dependency)"
        )
    port = _free_port()
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_env(s3_server, monkeypatch, tmp_path) -> Iterator[dict[str, str]]:
    """The environment production sets for a bucket (fake keys: moto takes any), a fresh
    bucket, and STORAGES["default"] built from it by the settings' own function."""
    env = {
        "STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": s3_server,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MEDIA_ROOT": str(tmp_path / "local-uploads"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    storages = {
        "default": storage_from_environment(),
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield env
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def objects(env: dict[str, str]) -> list[str]:
    client: Any = boto3.client(
        "s3", endpoint_url=env["AWS_S3_ENDPOINT_URL"], region_name="us-east-1"
    )
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def csv_upload(n: int) -> SimpleUploadedFile:
    lines = ["email;first name;last name"] + [f"s3.{i}@example.com;P;L" for i in range(n)]
    return SimpleUploadedFile("staff.csv", ("\n".join(lines) + "\n").encode())


def test_an_upload_is_kept_in_the_bucket_previewed_and_removed_on_discard(
    s3_env, redflag, admin_user, tmp_path
):
    run = services.import_create(connection=redflag, upload=csv_upload(30), user=admin_user)
    assert run.status == ImportStatus.PREVIEWED, run.error
    assert run.n_create == 30
    assert objects(s3_env) == [f"uploads/{run.file.name}"]
    assert not (tmp_path / "local-uploads").exists()

    services.import_discard(import_run=run, user=admin_user)
    assert objects(s3_env) == []


def test_a_worker_previews_from_the_bucket_and_a_missing_object_fails_the_preview(
    s3_env, redflag, admin_user, settings, tmp_path
):
    settings.IMPORT_INLINE_MAX_BYTES = 1_000
    worker = start_worker(tmp_path, env={**s3_env, "MEDIA_ROOT": str(tmp_path / "other")})
    try:
        run = services.import_create(connection=redflag, upload=csv_upload(200), user=admin_user)

        def done() -> bool:
            run.refresh_from_db()
            return run.status != ImportStatus.PARSING

        assert wait_until(done, timeout=90, worker=worker), worker.output()[-3000:]
        assert run.status == ImportStatus.PREVIEWED, (run.error, worker.output()[-3000:])
        assert run.n_create == 200

        default_storage.delete(str(run.file.name))
        services.import_start_preview(import_run=run)
        assert wait_until(done, timeout=60, worker=worker), worker.output()[-3000:]
        assert run.status == ImportStatus.FAILED
        assert run.error == services.MISSING_FILE
    finally:
        worker.stop()
