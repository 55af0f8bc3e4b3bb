"""What import-linter cannot see of the layering (its contracts in pyproject.toml cover the
imports): a service layer sends no query of its own to the database, and an entrypoint is a
route list, each function short enough to read at a glance."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parent.parent / "services"
QUERIES = {
    "find", "find_one", "find_one_and_update", "insert_one", "insert_many", "update_one",
    "update_many", "replace_one", "delete_one", "delete_many", "bulk_write", "aggregate",
    "count_documents",
}  # fmt: skip
LONGEST_ENTRYPOINT_FUNCTION = 60


def _modules(layer: str) -> list[Path]:
    return sorted(SERVICES.glob(f"*/{layer}/*.py"))


@pytest.mark.parametrize("path", _modules("service_layer"), ids=lambda p: str(p.parent.parent.name))
def test_a_service_layer_sends_no_query_itself(path: Path) -> None:
    calls = [
        f"line {node.lineno}: .{node.func.attr}()"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in QUERIES
        and not _through_a_repository(node.func)
    ]
    assert not calls, f"{path}: database calls belong in adapters/: {calls}"


def _through_a_repository(func: ast.Attribute) -> bool:
    """``self.store.forget(…)`` is a repository's verb; ``self.store.calendar.find(…)`` is a
    query on one of its collections."""
    owner = func.value
    return isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name)


@pytest.mark.parametrize(
    "path", _modules("entrypoints"), ids=lambda p: f"{p.parent.parent.name}/{p.name}"
)
def test_entrypoint_functions_are_short(path: Path) -> None:
    long = [
        f"{node.name} ({(node.end_lineno or 0) - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or 0) - node.lineno + 1 > LONGEST_ENTRYPOINT_FUNCTION
    ]
    assert not long, f"{path}: {long}"
