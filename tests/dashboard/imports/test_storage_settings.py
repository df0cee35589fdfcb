"""STORAGES["default"] from the environment: the file system by default, a bucket with
STORAGE_BACKEND=s3, and a clear refusal naming the variable that is wrong."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard.settings import storage_from_environment

NAMES = (
    "STORAGE_BACKEND", "STORAGE_OPTIONS", "AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME", "AWS_S3_ADDRESSING_STYLE", "AWS_S3_SIGNATURE_VERSION", "AWS_LOCATION",
    "AWS_S3_MAX_MEMORY_SIZE",
)  # fmt: skip

BUCKET_LIKE = "tests.dashboard.imports.shared_storage.BucketLikeStorage"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_the_default_is_the_file_system_under_media_root():
    """No location option: the storage reads MEDIA_ROOT, so a test's MEDIA_ROOT applies."""
    assert storage_from_environment() == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {},
    }


def test_s3_takes_its_bucket_and_endpoint_from_the_environment_and_never_the_keys(monkeypatch):
    monkeypatch.setenv("STORAGE_BACKEND", "S3")
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "hr-uploads")
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", "https://s3.example.net")
    monkeypatch.setenv("AWS_S3_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-the-settings")
    storage = storage_from_environment()
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"] == {
        "bucket_name": "hr-uploads",
        "location": "uploads",
        "file_overwrite": False,
        "max_memory_size": 2 * 1024 * 1024,
        "endpoint_url": "https://s3.example.net",
        "addressing_style": "path",
    }
    assert "not-for-the-settings" not in repr(storage)


def test_s3_without_a_bucket_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("STORAGE_BACKEND", "s3")
    with pytest.raises(ImproperlyConfigured, match="AWS_STORAGE_BUCKET_NAME is not set"):
        storage_from_environment()


def test_a_storage_class_by_its_path_gets_the_options_given(monkeypatch):
    monkeypatch.setenv("STORAGE_BACKEND", BUCKET_LIKE)
    monkeypatch.setenv("STORAGE_OPTIONS", '{"location": "/srv/shared"}')
    assert storage_from_environment() == {
        "BACKEND": BUCKET_LIKE,
        "OPTIONS": {"location": "/srv/shared"},
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STORAGE_BACKEND", "dropbox", "STORAGE_BACKEND must be filesystem, s3 or a storage"),
        ("STORAGE_OPTIONS", "[1]", "STORAGE_OPTIONS must be a JSON object"),
        ("STORAGE_OPTIONS", "{location", "STORAGE_OPTIONS must be a JSON object"),
    ],
)
def test_a_wrong_value_is_refused_with_a_clear_message(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        storage_from_environment()
