"""The rate limit shared through a folder: the embedded broker's worker processes (one host,
no Redis) keep one schedule and one pause per account, as with Redis.

Rates are slow (one request per ten seconds) so each reservation's slot is unmistakable
whatever the machine's speed; sleeps are recorded, never slept.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from integrations.clients.ratelimit import (
    FileStore,
    RedisRateLimiter,
    TokenBucket,
    forget_rate_limiter,
    shared_rate_limiter,
)

ROOT = Path(__file__).resolve().parents[3]
RATE = 0.1
SLOT = 1 / RATE
KEY = "snappy:account:test"


def limiter(folder: Path, rate: float = RATE) -> RedisRateLimiter:
    """A limiter with a store of its own, as another worker process would build it."""
    return RedisRateLimiter(
        FileStore(str(folder)),
        KEY,
        rate,
        burst=1,
        fallback=TokenBucket(rate, burst=1),
        sleep=lambda seconds: None,
    )


def slots(waits: list[float]) -> list[int]:
    return sorted(round(wait / SLOT) for wait in waits)


def test_two_limiters_on_one_folder_share_the_rate(tmp_path):
    first, second = limiter(tmp_path), limiter(tmp_path)

    waits = [first.reserve(), second.reserve(), first.reserve(), second.reserve()]

    assert waits == pytest.approx([0, SLOT, 2 * SLOT, 3 * SLOT], abs=1)


def test_two_processes_on_one_folder_share_the_rate(tmp_path):
    here = limiter(tmp_path)
    waits = [here.reserve() for _ in range(3)]
    code = (
        "import json, sys\n"
        "from integrations.clients.ratelimit import FileStore, RedisRateLimiter, TokenBucket\n"
        "folder, key, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])\n"
        "limiter = RedisRateLimiter(FileStore(folder), key, rate, burst=1,\n"
        "                           fallback=TokenBucket(rate, burst=1))\n"
        "print(json.dumps([limiter.reserve() for _ in range(3)]))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), KEY, str(RATE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    waits += json.loads(other.stdout)

    assert slots(waits) == [0, 1, 2, 3, 4, 5]


def test_a_pause_set_by_one_process_holds_the_others(tmp_path):
    first, second = limiter(tmp_path, rate=10), limiter(tmp_path, rate=10)

    first.pause(30)

    assert second.paused_for() == pytest.approx(30, abs=1)
    assert [second.reserve(), second.reserve()] == pytest.approx([30, 30.1], abs=0.05)


def test_a_file_url_gives_the_folder_store(tmp_path):
    try:
        shared = shared_rate_limiter(KEY, RATE, burst=1, redis_url=f"file://{tmp_path}")
        assert isinstance(shared, RedisRateLimiter)
        shared.reserve()
        assert len(list(tmp_path.iterdir())) == 1  # one small file for the account
        assert KEY not in next(tmp_path.iterdir()).name  # named by a hash of the key
    finally:
        forget_rate_limiter(KEY)


def test_an_unusable_folder_paces_in_process_and_warns_once(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="integrations.clients.ratelimit")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    broken = limiter(blocker)

    waits = [broken.reserve(), broken.reserve()]

    assert waits == pytest.approx([0, SLOT], abs=1)  # the process's own bucket
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "rate limit folder" in warnings[0]


def test_the_embedded_broker_shares_limits_through_a_folder(settings):
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        assert settings.RATE_LIMIT_REDIS_URL.startswith("file://")
    else:
        assert not settings.RATE_LIMIT_REDIS_URL.startswith("file://")
