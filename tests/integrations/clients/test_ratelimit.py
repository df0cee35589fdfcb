"""The in-process token bucket, its pauses, and one bucket per provider account."""

from __future__ import annotations

import threading

import pytest

from integrations.clients import SnappyClient, TokenBucket, forget_rate_limiter, ratelimit
from integrations.connection import connection_client
from tests.factories import ConnectionFactory
from tests.integrations.clients.helpers import BASE, SNAPPY_KEY, time_options


def test_a_burst_passes_then_permits_come_at_the_rate(fake_time):
    bucket = TokenBucket(100, burst=10, clock=fake_time.clock, sleep=fake_time.sleep)

    waits = [bucket.reserve() for _ in range(13)]

    assert waits[:10] == [0.0] * 10
    assert waits[10:] == pytest.approx([0.01, 0.02, 0.03])


def test_the_bucket_refills_with_time_but_not_beyond_the_burst(fake_time):
    bucket = TokenBucket(10, burst=2, clock=fake_time.clock, sleep=fake_time.sleep)
    bucket.reserve(), bucket.reserve()

    fake_time.now += 60

    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])


def test_acquire_sleeps_for_the_wait(fake_time):
    bucket = TokenBucket(4, burst=1, clock=fake_time.clock, sleep=fake_time.sleep)

    for _ in range(4):
        bucket.acquire()

    assert fake_time.sleeps == pytest.approx([0.25, 0.25, 0.25])


def test_concurrent_reservations_are_never_lost(fake_time):
    """Eight threads, frozen clock: every reservation gets its own slot in the queue."""
    bucket = TokenBucket(100, burst=10, clock=fake_time.clock, sleep=fake_time.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def worker():
        mine = [bucket.reserve() for _ in range(100)]
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    slots = sorted(round(wait * 100) for wait in waits)
    assert slots == [0] * 10 + list(range(1, 791))


def test_rate_must_be_positive():
    with pytest.raises(ValueError):
        TokenBucket(0)


def snappy_client(fake_time, company_id="company1234", **overrides):
    return SnappyClient(
        BASE + "/snappy", SNAPPY_KEY, company_id=company_id, **time_options(fake_time), **overrides
    )


def test_clients_of_one_company_share_a_bucket(fake_time):
    first = snappy_client(fake_time, company_id="sharedCo1")
    second = snappy_client(fake_time, company_id="sharedCo1")
    other = snappy_client(fake_time, company_id="otherCo12")

    assert first.rate_limiter is second.rate_limiter
    assert first.rate_limiter is not other.rate_limiter
    assert first.rate_limiter.rate == pytest.approx(95)  # 100/s less 5 % headroom
    assert first.rate_limiter.burst == 1
    forget_rate_limiter(first._rate_limit_key())
    forget_rate_limiter(other._rate_limit_key())


def test_an_explicit_key_shares_across_instances(fake_time):
    first = snappy_client(fake_time, rate_limit=5, rate_limit_key="connection:42")
    second = snappy_client(fake_time, company_id=None, rate_limit=5, rate_limit_key="connection:42")

    assert first.rate_limiter is second.rate_limiter
    forget_rate_limiter("connection:42")


def test_the_registry_never_holds_the_api_key(fake_time):
    snappy_client(fake_time, company_id=None)

    assert not any(SNAPPY_KEY in key for key in ratelimit._registry)


def test_rate_limit_none_switches_the_limiter_off(fake_time):
    assert snappy_client(fake_time, rate_limit=None).rate_limiter is None


def test_a_client_waits_for_its_permits(fake_time, httpx_mock):
    client = snappy_client(fake_time, rate_limit=100, rate_limit_key="connection:throttle-test")
    httpx_mock.add_response(json={"results": []}, is_reusable=True)

    for _ in range(12):
        client.list_recipients()

    assert fake_time.sleeps == pytest.approx([1 / 95] * 11)
    assert client.stats.rate_limit_wait == pytest.approx(11 / 95)
    forget_rate_limiter("connection:throttle-test")


# -- pauses (a 429 seen by one client holds every client of the account) --------------------


def test_a_pause_holds_every_permit_until_it_ends_then_paces(fake_time):
    bucket = TokenBucket(10, burst=1, clock=fake_time.clock, sleep=fake_time.sleep)

    assert bucket.pause(2) == 2
    bucket.pause(0.5)  # a shorter pause never cuts a longer one

    assert bucket.paused_for() == 2
    assert [bucket.reserve(), bucket.reserve()] == pytest.approx([2.0, 2.1])


def test_a_pause_is_bounded(fake_time):
    bucket = TokenBucket(10, burst=1, clock=fake_time.clock, sleep=fake_time.sleep)

    assert bucket.pause(3600) == ratelimit.MAX_PAUSE
    assert bucket.pause() == ratelimit.MAX_PAUSE  # the default pause is shorter: kept


def test_acquire_queues_behind_a_pause_that_began_while_it_waited(fake_time):
    bucket = TokenBucket(10, burst=1, clock=fake_time.clock, sleep=fake_time.sleep)
    bucket.reserve()  # the next permit is due in 0.1 s
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            bucket.pause(3)  # another thread got a 429 while this one waited
        fake_time.sleep(seconds)

    bucket._sleep = sleep
    bucket.acquire()

    # The pause began as the wait did: 0.1 s later, 2.9 s of it are left.
    assert sleeps == pytest.approx([0.1, 2.9])


def test_a_429_pauses_the_client_s_bucket(fake_time, httpx_mock):
    """Without Retry-After the bucket stops for the default pause, however short the backoff."""
    client = snappy_client(fake_time, rate_limit=100, rate_limit_key="connection:pause-test")
    httpx_mock.add_response(status_code=429)
    httpx_mock.add_response(json={"results": []})

    client.list_recipients()

    # Backoff with jitter 0.5 is 0.5 s; the bucket then holds the request to the 1 s pause.
    assert fake_time.sleeps == pytest.approx([0.5, 0.5])
    forget_rate_limiter("connection:pause-test")


# -- one bucket per provider account ----------------------------------------------------------


@pytest.fixture
def loopback_connections(db, settings):
    settings.ALLOW_LOOPBACK_PROVIDER_URLS = True
    settings.RATE_LIMIT_REDIS_URL = ""

    def make(secret: str = SNAPPY_KEY, company_id: str = "company1234", **kwargs):
        return ConnectionFactory(
            provider="snappy",
            base_url=kwargs.pop("base_url", "http://127.0.0.1:9/snappy"),
            plain_secret=secret,
            options={"company_id": company_id},
            **kwargs,
        )

    return make


def test_two_connections_to_one_account_share_a_bucket(loopback_connections):
    first = connection_client(loopback_connections())
    second = connection_client(loopback_connections(base_url="HTTP://127.0.0.1:9/snappy/"))

    assert first.rate_limiter is not None
    assert first.rate_limiter is second.rate_limiter


def test_connections_to_other_accounts_have_buckets_of_their_own(loopback_connections):
    first = connection_client(loopback_connections())
    other_key = connection_client(loopback_connections(secret=SNAPPY_KEY[::-1]))
    other_company = connection_client(loopback_connections(company_id="company5678"))
    other_server = connection_client(loopback_connections(base_url="http://127.0.0.1:8/snappy"))

    limiters = {id(c.rate_limiter) for c in (first, other_key, other_company, other_server)}
    assert len(limiters) == 4


def test_an_account_s_key_never_holds_its_credential(loopback_connections):
    before = set(ratelimit._registry)
    connection_client(loopback_connections(secret=SNAPPY_KEY[:-4] + "wxyz"))

    (key,) = set(ratelimit._registry) - before
    assert key.startswith("snappy:account:")
    assert "wxyz" not in key and "company1234" not in key and "127.0.0.1" not in key
