"""A storage shared by every process of a test, that, like an S3 bucket, has no local path.

``STORAGE_BACKEND=tests.dashboard.imports.shared_storage.BucketLikeStorage`` with
``STORAGE_OPTIONS={"location": …}`` makes a worker use it; a test process gets it through
``override_settings(STORAGES=…)``. Any code that asks for a stored file's path instead of
opening it through the storage fails with ``NotImplementedError``, as it would on S3.
"""

from __future__ import annotations

from typing import IO, Any

from django.core.files.storage import FileSystemStorage, Storage
from django.utils.deconstruct import deconstructible


@deconstructible(path="tests.dashboard.imports.shared_storage.BucketLikeStorage")
class BucketLikeStorage(Storage):
    """Files kept in ``location`` (one folder for every process, as one bucket for every
    host), reached only through the storage API."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._disk = FileSystemStorage(location=location)

    def _open(self, name: str, mode: str = "rb") -> Any:
        return self._disk.open(name, mode)

    def _save(self, name: str, content: IO[Any]) -> str:
        return self._disk.save(name, content)

    def delete(self, name: str) -> None:
        self._disk.delete(name)

    def exists(self, name: str) -> bool:
        return self._disk.exists(name)

    def size(self, name: str) -> int:
        return self._disk.size(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._disk.listdir(path)

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Uploads are never served.")
