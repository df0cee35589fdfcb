"""How fast this machine is right now, for comparing benchmark results run to run.

The shared VMs these benchmarks run on change speed between runs (the same code has measured
twice as slow an hour later). Every benchmark prints this beside its figures and puts it in its
JSON line, so a reader can tell a slower machine from slower code.
"""

from __future__ import annotations

import os
import timeit

_STATEMENT = "sum(range(50))"


def python_ns() -> float:
    """Best of five: nanoseconds for ``sum(range(50))`` (a fast machine here: ~360)."""
    loops = 100_000
    best = min(timeit.repeat(_STATEMENT, number=loops, repeat=5))
    return round(best / loops * 1e9, 1)


def describe() -> dict[str, float | int | str]:
    """The machine, for the JSON line: cores and the Python speed above."""
    return {"cores": os.cpu_count() or 1, "python_ns": python_ns(), "probe": _STATEMENT}


def line(machine: dict[str, float | int | str]) -> str:
    return (
        f"Machine: {machine['cores']} core(s); {machine['probe']} takes {machine['python_ns']} ns "
        "(lower is faster; compare runs only on similar values)"
    )
