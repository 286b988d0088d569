"""The radius room enters only through the door: it imports neither the methods nor the
policy (DESIGN §3), except for type checking."""

from __future__ import annotations

import ast
from pathlib import Path

import vahva.radius

ROOM = Path(vahva.radius.__file__).parent
FORBIDDEN = ("vahva.methods", "vahva.policy")


def _runtime_imports(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def test_the_radius_room_imports_no_method_and_no_policy() -> None:
    files = [f for f in ROOM.rglob("*.py") if "migrations" not in f.parts]
    assert len(files) > 5
    for path in files:
        for name in _runtime_imports(ast.parse(path.read_text())):
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
