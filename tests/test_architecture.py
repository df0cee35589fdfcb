"""The import rules of docs/architecture.md that import-linter cannot state, and its contracts.

An area is a package of ``dashboard`` (``dashboard.jobs``, ``dashboard.core``…) or the whole
of ``integrations``; the project's own modules (``dashboard.settings``, ``dashboard.urls``,
``dashboard.celery``) are the area ``dashboard``. Across areas, code imports public names
only, and at the top of the module, where the import graph (``lint-imports``) and a reader
see it: a function-local import across areas is how a cycle hides.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dashboard", "integrations")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported} ({self.rule})"


def area_of(module: str, root: Path = ROOT) -> str | None:
    """Return the area ``module`` belongs to, or ``None`` for a module outside the project."""
    parts = module.split(".")
    if parts[0] == "integrations":
        return "integrations"
    if parts[0] != "dashboard":
        return None
    if len(parts) > 1 and (root / "dashboard" / parts[1]).is_dir():
        return f"dashboard.{parts[1]}"
    return "dashboard"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop] if drop else base
    return ".".join([*base, node.module] if node.module else base)


def violations(source: str, module: str, *, is_package: bool = False, root: Path = ROOT):
    """Yield each import in ``source`` (the text of ``module``) that breaks the rules."""
    own = area_of(module, root)
    tree = ast.parse(source)

    def targets(node: ast.Import | ast.ImportFrom) -> list[tuple[str, list[str]]]:
        if isinstance(node, ast.Import):
            return [(alias.name, []) for alias in node.names]
        return [(_absolute(module, is_package, node), [alias.name for alias in node.names])]

    def check(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for imported, names in targets(child):
                    other = area_of(imported, root)
                    if other is None or other == own:
                        continue
                    inner = imported.removeprefix(other).split(".")[1:]
                    private = [part for part in inner + names if _is_private(part)]
                    if private:
                        found.append(
                            Violation(module, child.lineno, imported, f"private {private[0]}")
                        )
                    if in_function:
                        found.append(
                            Violation(module, child.lineno, imported, "function-local import")
                        )
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            check(child, inside)

    found: list[Violation] = []
    check(tree, False)
    return found


def _project_modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            parts = list(relative.parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            yield path, ".".join(parts), is_package


def test_no_area_imports_another_areas_private_name_or_imports_it_inside_a_function():
    found = [
        violation
        for path, module, is_package in _project_modules()
        for violation in violations(path.read_text(), module, is_package=is_package)
    ]
    assert not found, "\n".join(map(str, found))


def test_a_private_name_from_another_area_is_reported():
    source = "from dashboard.jobs.exports import _Echo, errors_csv_lines\n"
    (found,) = violations(source, "dashboard.imports.exports")
    assert found.rule == "private _Echo"
    assert found.line == 1


def test_a_private_module_of_another_area_is_reported():
    source = "from dashboard.core._internal import helper\n"
    (found,) = violations(source, "dashboard.jobs.views")
    assert found.rule == "private _internal"


def test_a_function_local_import_of_another_area_is_reported():
    source = (
        "def job_source_import(job):\n"
        "    if job:\n"
        "        from dashboard.imports.models import Import\n"
        "        return Import\n"
    )
    (found,) = violations(source, "dashboard.jobs.selectors")
    assert (found.line, found.imported, found.rule) == (
        3,
        "dashboard.imports.models",
        "function-local import",
    )


def test_imports_within_one_area_and_of_libraries_are_left_alone():
    source = (
        "from dashboard.imports.models import _stored\n"
        "from . import _helpers\n"
        "def task():\n"
        "    from dashboard.imports.services import import_build_preview\n"
        "    from django.apps import apps\n"
    )
    assert violations(source, "dashboard.imports.tasks") == []


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project's Python packages and pyproject.toml, to add a violation to."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "templates", "static"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def test_the_contracts_hold_on_the_project_as_it_is(project_copy):
    result = _lint_imports(project_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contracts_fail_when_integrations_imports_dashboard(project_copy):
    _append(project_copy / "integrations" / "catalogue.py", "import dashboard.jobs.exports")

    result = _lint_imports(project_copy)

    assert result.returncode == 1
    assert "integrations (the domain) never imports dashboard (the web layer) BROKEN" in (
        result.stdout
    )
    assert "integrations.catalogue -> dashboard.jobs.exports" in result.stdout


def test_the_contracts_fail_when_a_low_area_imports_a_higher_one(project_copy):
    # core is the bottom: the overview may read core, core may not read the overview.
    _append(project_copy / "dashboard" / "core" / "views.py", "import dashboard.overview.selectors")

    result = _lint_imports(project_copy)

    assert result.returncode == 1
    assert "each web area imports only the areas below it (no cycles) BROKEN" in result.stdout
    assert "dashboard.core.views -> dashboard.overview.selectors" in result.stdout


def test_no_test_imports_from_a_conftest():
    """Fixtures come from conftest.py by name; shared code lives in a plain module."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {module}"
                for module in modules
                if module.split(".")[-1] == "conftest"
            ]
    assert not found, "\n".join(found)
