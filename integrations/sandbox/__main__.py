"""``python -m integrations.sandbox``: the sandbox without Django (benchmarks, CI scripts)."""

from __future__ import annotations

import argparse
import sys

from integrations.sandbox.cli import add_arguments, run
from integrations.sandbox.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m integrations.sandbox", description="Serve the provider sandbox."
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    try:
        run(options, sys.stdout)
    except (ConfigError, ValueError, OSError) as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
