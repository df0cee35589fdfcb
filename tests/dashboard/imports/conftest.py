from __future__ import annotations

import pytest

from dashboard.connections import services as connection_services
from integrations.models import Connection
from tests.factories import ConnectionFactory


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    """Uploaded files go to a temporary folder, never to var/."""
    settings.MEDIA_ROOT = tmp_path / "uploads"


@pytest.fixture
def redflag(admin_user) -> Connection:
    """A RedFlag connection with the contact and work fields an HR file carries enabled."""
    connection = ConnectionFactory(name="Acme RedFlag", provider="redflag")
    for path in ("mobile", "mobileCountry", "country", "department", "sfHireDate", "orgId"):
        connection_services.field_setting_set(
            connection=connection, path=path, enabled=True, user=admin_user
        )
    return connection


@pytest.fixture
def snappy(db) -> Connection:
    return ConnectionFactory(name="Acme Snappy", provider="snappy")


@pytest.fixture
def chunked_here(settings, monkeypatch):
    """Previews in chunks of 100 rows (batches of 40) whose tasks run at once, in this
    process, when the writer queues them: ``chunked_here(deliveries=2)`` delivers each
    twice, as a broker may with late acknowledgement, the second as a redelivery racing
    the first (it looked before the first stored its result: both store one). Returns the
    chunk indexes queued."""
    from dashboard.imports import services, tasks

    settings.IMPORT_PREVIEW_CHUNK_ROWS, settings.IMPORT_PREVIEW_CHUNK_MIN_BYTES = 100, 0
    monkeypatch.setattr(services, "ROW_BATCH", 40)
    queued: list[int] = []

    def configure(*, deliveries: int = 1) -> list[int]:
        def delay(import_id, generation, claim, index, start, end):
            queued.append(index)
            for delivery in range(deliveries):
                with monkeypatch.context() as racing:
                    if delivery:
                        racing.setattr(services._ChunkStore, "done", lambda *args: False)
                    services.import_build_preview_chunk(
                        import_id=import_id, generation=generation, claim=claim, index=index,
                        start=start, end=end, redelivered=delivery > 0,
                    )  # fmt: skip

        monkeypatch.setattr(tasks.build_import_preview_chunk, "delay", delay)
        return queued

    return configure
