"""The tree is the architecture: the core imports none of the processes' glue."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "clinic_core"
# The packages of the processes, and the Rasa libraries they wrap.
GLUE = {"actions", "components", "channels", "staff", "serving", "scripts", "rasa", "rasa_sdk"}


def imported_top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_the_core_imports_no_process_glue(path: Path) -> None:
    assert imported_top_level_names(path) & GLUE == set()


def test_the_boundary_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from actions.forms import PatientForm\n", encoding="utf-8")
    assert "actions" in imported_top_level_names(module)


def test_actions_hold_only_rasa_sdk_glue() -> None:
    """Every module of the action package is an action or a form, or their base."""
    for path in sorted((ROOT / "actions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        assert "rasa_sdk" in imported_top_level_names(path), path.name
