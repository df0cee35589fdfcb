"""Say where the test data lives and whether a missing part skips (a laptop) or fails (CI)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

# Outside corpora (CSV edge cases, naughty strings, email and phone vectors): copies of the
# team's ../shared/testdata kept in the repository (tests/data/README.md), so a clone runs alone.
TESTDATA = Path(__file__).resolve().parents[1] / "data" / "testdata"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> NoReturn:
    """Skip on a laptop; fail in CI, where every part must be present."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)
