"""The client-side token bucket and its per-connection registry, on an injected clock."""

from __future__ import annotations

import threading

import pytest

from integrations.clients import SnappyClient, TokenBucket, forget_rate_limiter, ratelimit
from tests.integrations.clients.conftest import BASE, SNAPPY_KEY, time_options


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
