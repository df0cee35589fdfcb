"""Durations and rates read as words, not raw seconds."""

from __future__ import annotations

import pytest

from dashboard.jobs.templatetags.job_tags import duration, per_second


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0.4, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (75, "1 min 15 s"),
        (3600, "1 h"),
        (3725, "1 h 2 min"),
    ],
)
def test_durations_read_as_hours_minutes_and_seconds(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (None, "—"),
        (0.2, "12 records/min"),
        (0.01, "0.6 records/min"),
        (3.14, "3.1 records/s"),
        (2.0, "2 records/s"),
        (1234.5, "1,234 records/s"),
    ],
)
def test_rates_switch_to_per_minute_when_slow(rate, text):
    assert per_second(rate) == text
