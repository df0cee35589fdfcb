"""The rate limit shared through Redis: one schedule and one pause per account, everywhere.

Against a real Redis (``RATE_LIMIT_REDIS_URL``, by default the broker's). Rates are slow (one
request per ten seconds) so each reservation's slot is unmistakable whatever the machine's
speed; sleeps are recorded, never slept.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from integrations.clients import SnappyClient
from integrations.clients.ratelimit import (
    DEFAULT_PAUSE,
    MAX_PAUSE,
    RedisRateLimiter,
    RedisStore,
    TokenBucket,
    forget_rate_limiter,
    redis_key,
    shared_rate_limiter,
)
from tests.integrations.clients.helpers import BASE, SNAPPY_KEY, assert_no_secret
from tests.integrations.clients.redis_helpers import TcpRelay, rate_limit_redis_url

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[3]
RATE = 0.1  # one request per ten seconds
SLOT = 1 / RATE


@pytest.fixture
def redis_url() -> str:
    return rate_limit_redis_url()


@pytest.fixture
def key(redis_url):
    """A fresh account key; its Redis state is removed afterwards."""
    name = f"test:{uuid.uuid4().hex}"
    yield name
    forget_rate_limiter(name)
    client = redis.Redis.from_url(redis_url)
    client.delete(redis_key(name))
    client.close()


class Sleeps:
    """A sleep that only records."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def limiter(url: str, key: str, rate: float = RATE) -> RedisRateLimiter:
    """A limiter with a store of its own, as another process would build it."""
    return RedisRateLimiter(
        RedisStore(url),
        key,
        rate,
        burst=1,
        fallback=TokenBucket(rate, burst=1),
        sleep=Sleeps(),
    )


def slots(waits: list[float]) -> list[int]:
    return sorted(round(wait / SLOT) for wait in waits)


def test_two_limiters_with_one_key_share_the_rate(redis_url, key):
    first, second = limiter(redis_url, key), limiter(redis_url, key)

    waits = [first.reserve(), second.reserve(), first.reserve(), second.reserve()]

    assert waits == pytest.approx([0, SLOT, 2 * SLOT, 3 * SLOT], abs=2)


def test_limiters_of_other_keys_do_not_wait_for_each_other(redis_url, key):
    first = limiter(redis_url, key)
    first.reserve(), first.reserve()

    other_key = f"{key}:other"
    try:
        assert limiter(redis_url, other_key).reserve() == 0
    finally:
        redis.Redis.from_url(redis_url).delete(redis_key(other_key))


def test_two_processes_with_one_key_share_the_rate(redis_url, key):
    """Reservations from this process and another take distinct slots of one schedule."""
    here = limiter(redis_url, key)
    waits = [here.reserve() for _ in range(3)]
    code = (
        "import json, sys\n"
        "from integrations.clients.ratelimit import RedisRateLimiter, RedisStore, TokenBucket\n"
        "url, key, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])\n"
        "limiter = RedisRateLimiter(RedisStore(url), key, rate, burst=1,\n"
        "                           fallback=TokenBucket(rate, burst=1))\n"
        "print(json.dumps([limiter.reserve() for _ in range(3)]))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, redis_url, key, str(RATE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    waits += json.loads(other.stdout)

    assert slots(waits) == [0, 1, 2, 3, 4, 5]


def test_a_pause_set_by_one_limiter_holds_every_other(redis_url, key):
    first, second = limiter(redis_url, key, rate=10), limiter(redis_url, key, rate=10)

    first.pause(30)

    assert second.paused_for() == pytest.approx(30, abs=2)
    # After the pause the queued requests follow at the rate, not all at once.
    assert [second.reserve(), second.reserve()] == pytest.approx([30, 30.1], abs=0.05)


def test_a_shorter_pause_never_cuts_a_longer_one(redis_url, key):
    first, second = limiter(redis_url, key), limiter(redis_url, key)

    first.pause(30)
    second.pause(2)

    assert first.paused_for() == pytest.approx(30, abs=2)


def test_a_pause_is_bounded_and_has_a_default(redis_url, key):
    first, second = limiter(redis_url, key), limiter(redis_url, f"{key}:bare")

    first.pause(3600)
    second.pause()

    assert first.paused_for() == pytest.approx(MAX_PAUSE, abs=2)
    assert 0 < second.paused_for() <= DEFAULT_PAUSE
    redis.Redis.from_url(redis_url).delete(redis_key(f"{key}:bare"))


def test_acquire_takes_a_new_slot_when_a_pause_began_while_it_waited(redis_url, key):
    other = limiter(redis_url, key)
    mine = limiter(redis_url, key)
    other.reserve()  # the next slot is ten seconds away

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            other.pause(30)  # a 429 elsewhere while this caller waits for its slot

    waits: list[float] = []
    mine._sleep = sleep
    mine.acquire()

    assert waits == pytest.approx([SLOT, 30], abs=2)


def test_clients_with_a_redis_url_share_one_limiter_per_key(redis_url, key):
    def client(**options):
        return SnappyClient(
            BASE,
            SNAPPY_KEY,
            rate_limit=RATE,
            rate_limit_key=key,
            rate_limit_redis_url=redis_url,
            sleep=Sleeps(),
            **options,
        )

    first, second = client(), client()

    assert isinstance(first.rate_limiter, RedisRateLimiter)
    assert first.rate_limiter is second.rate_limiter
    # A client on an injected clock cannot pace on Redis's clock: it keeps its own bucket.
    assert isinstance(client(clock=lambda: 0.0).rate_limiter, TokenBucket)


def test_a_429_with_retry_after_pauses_every_client_of_the_account(redis_url, key, httpx_mock):
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "30"})
    httpx_mock.add_response(json={"results": []})
    client = SnappyClient(
        BASE,
        SNAPPY_KEY,
        company_id="company1234",
        rate_limit=10,
        rate_limit_key=key,
        rate_limit_redis_url=redis_url,
        sleep=Sleeps(),
    )

    client.list_recipients()

    assert limiter(redis_url, key).paused_for() == pytest.approx(30, abs=2)


def test_a_429_without_retry_after_pauses_briefly(redis_url, key, httpx_mock):
    httpx_mock.add_response(status_code=429)
    httpx_mock.add_response(json={"results": []})
    client = SnappyClient(
        BASE,
        SNAPPY_KEY,
        rate_limit=10,
        rate_limit_key=key,
        rate_limit_redis_url=redis_url,
        sleep=Sleeps(),
        jitter=lambda: 0.0,
    )

    client.list_recipients()

    assert 0 < limiter(redis_url, key).paused_for() <= DEFAULT_PAUSE


def test_redis_holds_no_secret(redis_url, key, httpx_mock):
    """Keys and values in Redis name the account by a hash, whatever key a caller chose."""
    secret_key = f"{key}:{SNAPPY_KEY}"  # a careless caller puts the API key in the name
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "1"})
    httpx_mock.add_response(json={"results": []})
    client = SnappyClient(
        BASE,
        SNAPPY_KEY,
        rate_limit=10,
        rate_limit_key=secret_key,
        rate_limit_redis_url=redis_url,
        sleep=Sleeps(),
    )
    client.list_recipients()

    store = redis.Redis.from_url(redis_url, decode_responses=True)
    name = redis_key(secret_key)
    try:
        assert store.exists(name)
        assert_no_secret(" ".join(store.scan_iter(match="ratelimit:*", count=1000)))
        assert_no_secret(json.dumps(store.hgetall(name)))
    finally:
        store.delete(name)
        forget_rate_limiter(secret_key)


def test_without_redis_the_limiter_paces_in_process_and_warns_once(caplog):
    caplog.set_level(logging.WARNING, logger="integrations.clients.ratelimit")
    url = "redis://:hunter2-password@127.0.0.1:1/0"  # nothing listens on port 1
    key = f"test:{uuid.uuid4().hex}"
    bucket = shared_rate_limiter(key, RATE, burst=1, sleep=Sleeps(), redis_url=url)

    waits = [bucket.reserve(), bucket.reserve()]
    bucket.pause(5)
    forget_rate_limiter(key)

    assert waits == pytest.approx([0, SLOT], abs=1)
    assert bucket.paused_for() == pytest.approx(5, abs=1)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "unreachable" in warnings[0]
    assert "hunter2" not in warnings[0] and "127.0.0.1" not in warnings[0]


def test_a_redis_outage_mid_run_falls_back_and_recovers(redis_url, key, caplog):
    caplog.set_level(logging.WARNING, logger="integrations.clients.ratelimit")
    relay = TcpRelay(redis_url)
    relay.start()
    shared = limiter(relay.url, key)
    assert isinstance(shared._store, RedisStore)
    shared._store.retry_interval = 0  # try Redis again at once (the default waits 5 s)
    watcher = limiter(redis_url, key)
    try:
        assert shared.reserve() == 0
        assert watcher.reserve() == pytest.approx(SLOT, abs=2)  # one schedule in Redis

        relay.stop()
        during = [shared.reserve(), shared.reserve()]  # the process's own bucket now
        relay.start()
        after = shared.reserve()
    finally:
        relay.stop()

    assert during == pytest.approx([0, SLOT], abs=2)
    assert after == pytest.approx(2 * SLOT, abs=2)  # back on the shared schedule
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "unreachable" in messages[0] and "reachable again" in messages[1]
