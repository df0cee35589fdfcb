"""The embedded broker never shows a worker a message that is still being written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from django.conf import settings
from kombu import Connection

from dashboard import broker


def _connection(folder: Path) -> Connection:
    return Connection(
        "filesystem://",
        transport="dashboard.broker:Transport",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "store_processed": False,
        },
    )


def test_the_embedded_broker_uses_the_whole_message_transport(tmp_path: Path) -> None:
    """Settings read with the embedded broker (this run may use Redis) pick the transport."""
    code = (
        "import django; django.setup(); "
        "from dashboard.celery import app; "
        "from django.conf import settings; "
        "conn = app.connection_for_write(); "
        "print(settings.CELERY_BROKER_TRANSPORT, type(conn.transport).__module__)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DEBUG": "true",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["dashboard.broker:Transport", "dashboard.broker"]


def test_a_message_being_written_is_invisible_to_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_while_writing: list[Any] = []
    real_replace = os.replace

    with _connection(tmp_path) as conn:
        channel = conn.default_channel
        assert isinstance(channel, broker.Channel)

        def replace(src: str, dst: str) -> None:
            # The moment before the rename: the message is fully written but not in place.
            names = os.listdir(tmp_path)
            seen_while_writing.append(names)
            with pytest.raises(Empty):
                channel._get("jobs")
            real_replace(src, dst)

        monkeypatch.setattr(broker.os, "replace", replace)
        channel._put("jobs", {"body": "hello"})
        monkeypatch.setattr(broker.os, "replace", real_replace)

        assert seen_while_writing and all(n.endswith(".part") for n in seen_while_writing[0])
        assert channel._get("jobs") == {"body": "hello"}
        assert os.listdir(tmp_path) == []


def test_a_failed_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu.exceptions import ChannelError

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    with _connection(tmp_path) as conn:
        monkeypatch.setattr(broker.os, "replace", broken_replace)
        with pytest.raises(ChannelError):
            channel = conn.default_channel
            assert isinstance(channel, broker.Channel)
            channel._put("jobs", {"body": "hello"})
    assert os.listdir(tmp_path) == []
