"""Give the client tests their fake provider address, secrets, enabled fields and clock."""

from __future__ import annotations

from integrations.catalogue import PARCELVOY_FIELDS, REDFLAG_FIELDS, SNAPPY_FIELDS

BASE = "https://provider.test"
REDFLAG_TOKEN = "rf-SECRET-token-0123456789abcdef"
SNAPPY_KEY = "SnAppYsEcReT0123456789ab"  # 24 characters, like a real key
PARCELVOY_KEY = "sk_dbf68c87-e579-4dac-b083-77fed0294e67"
SECRETS = (REDFLAG_TOKEN, SNAPPY_KEY, PARCELVOY_KEY)
WALL_NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z, the injected wall clock
REDFLAG_ENABLED = {spec.path for spec in REDFLAG_FIELDS} | {"tags.z_customField"}
SNAPPY_ENABLED = {spec.path for spec in SNAPPY_FIELDS} | {"recipientCustomFields.tshirt"}
PARCELVOY_ENABLED = {spec.path for spec in PARCELVOY_FIELDS}


class FakeTime:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def time_options(fake_time: FakeTime, **overrides):
    options = {
        "sleep": fake_time.sleep,
        "clock": fake_time.clock,
        "wall_clock": lambda: WALL_NOW,
        "jitter": lambda: 0.5,
    }
    options.update(overrides)
    return options


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
