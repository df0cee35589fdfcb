"""Benchmark: Snappy client throughput against the sandbox, and the client's own overhead.

Run: ``.venv/bin/python bench/client_throughput.py [--requests 2000] [--concurrency 16]``

1. Starts the provider sandbox in-process with 50 ms added latency on Snappy and the
   sandbox's 100 requests/second per-company limit switched on.
2. Sends ``--requests`` recipient updates through ONE ``SnappyClient`` shared by a thread
   pool of ``--concurrency`` workers (the client's token bucket paces them).
3. Prints achieved requests/second, the bound ``min(100/s, C / latency)``, and their ratio
   (target >= 0.9), plus how many 429s the sandbox had to send (ideally none).
4. Measures the client's own overhead: the same number of updates through a client whose
   transport answers instantly in memory (no network, no limiter); mean time per call.

The last line printed is one JSON object (metric, value, unit, anchor, ratio, target, ...).
Needs no Django.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench import _machine
from integrations.catalogue import SNAPPY_FIELDS
from integrations.clients import SnappyClient, forget_rate_limiter
from integrations.sandbox.server import SandboxServer

PROVIDER_LIMIT = 100.0  # requests/second per company (CONTRACT-NOTES "Snappy")
TARGET_RATIO = 0.9
OVERHEAD_TARGET_MS = 1.0
ENABLED = {spec.path for spec in SNAPPY_FIELDS}


def measure_throughput(requests: int, concurrency: int, latency_ms: float) -> dict:
    server = SandboxServer(host="127.0.0.1", port=0, seed=200, random_seed=7).start()
    try:
        server.configure(
            faults={"latency_ms": latency_ms, "only": ["snappy"]},
            variants={"snappy_rate_limit": int(PROVIDER_LIMIT)},
        )
        creds = server.credentials["snappy"]
        key = f"bench:{server.url}"
        client = SnappyClient(
            server.url + "/snappy",
            creds["api_key"],
            creds["company_id"],
            enabled_fields=ENABLED,
            rate_limit=PROVIDER_LIMIT,
            rate_limit_key=key,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        ids = [recipient.remote_id for recipient in client.iter_recipients()]
        server.reset()  # zero the counters and the sandbox's rate window before timing
        time.sleep(1.1)  # let the client's bucket and the provider's window both drain

        def update(i: int) -> float:
            started = time.perf_counter()
            client.update_recipient(ids[i % len(ids)], {"lastName": f"Bench{i}"})
            return time.perf_counter() - started

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            durations = list(pool.map(update, range(requests)))
        elapsed = time.perf_counter() - started

        counters = server.counters()["requests"]
        too_many = sum(n for k, n in counters.items() if k.startswith("snappy ") and "429" in k)
        stats = client.stats.as_dict()
        client.close()
        forget_rate_limiter(key)
    finally:
        server.stop()
    achieved = requests / elapsed
    bound = min(PROVIDER_LIMIT, concurrency / (latency_ms / 1000))
    return {
        "achieved": achieved,
        "bound": bound,
        "ratio": achieved / bound,
        "elapsed": elapsed,
        "http_429": too_many,
        "retries": stats["retries"],
        "p50_ms": statistics.median(durations) * 1000,
        "p95_ms": statistics.quantiles(durations, n=20)[18] * 1000,
    }


def measure_overhead(calls: int) -> dict:
    """Mean time per update through the client, with a transport that answers at once."""
    reply = json.dumps(
        {
            "id": "xyz12345",
            "firstName": "John",
            "lastName": "Doe",
            "email": "john.doe@example.com",
            "country": "US",
            "accounts": ["a12bcd34"],
            "source": {"type": "apiIntegration"},
            "updatedAt": "2022-12-06T09:50:38.536Z",
        }
    ).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=reply, headers={"Content-Type": "application/json"})

    client = SnappyClient(
        "https://snappy.invalid/public-api",
        "A" * 24,
        "company1234",
        enabled_fields=ENABLED,
        rate_limit=None,
        transport=httpx.MockTransport(handler),
    )
    raw = httpx.Client(base_url="https://snappy.invalid", transport=httpx.MockTransport(handler))
    for i in range(50):  # warm up both paths
        client.update_recipient("xyz12345", {"lastName": f"W{i}"})
        raw.patch("/v2/recipients/xyz12345", json={"lastName": "W"})

    started = time.perf_counter()
    for i in range(calls):
        client.update_recipient("xyz12345", {"lastName": f"L{i}"})
    ours = (time.perf_counter() - started) / calls

    started = time.perf_counter()
    for i in range(calls):
        raw.patch("/v2/recipients/xyz12345", json={"lastName": f"L{i}"}).json()
    bare = (time.perf_counter() - started) / calls
    client.close()
    raw.close()
    return {"overhead_ms": ours * 1000, "bare_httpx_ms": bare * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    machine = _machine.describe()
    print(_machine.line(machine))

    print(
        f"Snappy updates: {args.requests} requests, concurrency {args.concurrency}, "
        f"{args.latency_ms:g} ms added latency, provider limit {PROVIDER_LIMIT:g}/s"
    )
    result = measure_throughput(args.requests, args.concurrency, args.latency_ms)
    print(f"  achieved      {result['achieved']:.1f} requests/s in {result['elapsed']:.1f} s")
    print(f"  bound         {result['bound']:.1f} requests/s = min(100/s, C / latency)")
    print(f"  ratio         {result['ratio']:.3f} (target >= {TARGET_RATIO})")
    print(f"  latency p50   {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms")
    print(f"  429 replies   {result['http_429']} (client retries: {result['retries']})")

    overhead = measure_overhead(args.requests)
    print(
        f"Client overhead: {overhead['overhead_ms']:.3f} ms per update with an instant "
        f"in-memory transport (bare httpx on the same transport: "
        f"{overhead['bare_httpx_ms']:.3f} ms); target < {OVERHEAD_TARGET_MS} ms"
    )
    print(
        json.dumps(
            {
                "metric": "snappy_client_update_throughput",
                "machine": machine,
                "value": round(result["achieved"], 2),
                "unit": "requests/s",
                "anchor": round(result["bound"], 2),
                "ratio": round(result["ratio"], 4),
                "target": TARGET_RATIO,
                "overhead_ms": round(overhead["overhead_ms"], 4),
                "overhead_target_ms": OVERHEAD_TARGET_MS,
                "bare_httpx_ms": round(overhead["bare_httpx_ms"], 4),
                "concurrency": args.concurrency,
                "latency_ms": args.latency_ms,
                "requests": args.requests,
                "http_429": result["http_429"],
            }
        )
    )


if __name__ == "__main__":
    main()
