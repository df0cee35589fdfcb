"""requirements.lock is what is installed, and what pyproject.toml pins."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked() -> dict[str, tuple[str, str | None]]:
    """name -> (version, marker) for every package the lock names."""
    pins: dict[str, tuple[str, str | None]] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            name, version, marker = match.groups()
            pins[canonicalize_name(name)] = (version, marker)
    return pins


def test_every_locked_package_is_installed_at_its_locked_version():
    wrong = {}
    for name, (version, marker) in locked().items():
        if marker and not Marker(marker).evaluate():
            continue  # another platform's package
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"locked vs installed (run `make install`): {wrong}"


def test_the_lock_holds_pyproject_s_pins():
    """A pin changed in pyproject.toml without `make lock` fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = locked()
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    stale = {}
    for spec in wanted:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if not requirement.specifier.contains(pins.get(name, ("missing", None))[0]):
            stale[name] = (str(requirement.specifier), pins.get(name, ("missing",))[0])
    assert not stale, f"pyproject vs requirements.lock (run `make lock`): {stale}"
    assert len(pins) > 100
