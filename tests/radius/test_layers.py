"""The radius room enters only through the door: it imports neither the methods nor the
policy (DESIGN §3), except for type checking."""

from __future__ import annotations

import ast
from pathlib import Path

import vahva.radius

ROOM = Path(vahva.radius.__file__).parent
FORBIDDEN = ("vahva.methods", "vahva.policy")


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[str] = []

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            return  # type-only imports are allowed
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [alias.name for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module:
            self.found.append(node.module)


def _runtime_imports(tree: ast.Module) -> list[str]:
    visitor = _Imports()
    visitor.visit(tree)
    return visitor.found


def test_the_radius_room_imports_no_method_and_no_policy() -> None:
    files = [f for f in ROOM.rglob("*.py") if "migrations" not in f.parts]
    assert len(files) > 5
    for path in files:
        for name in _runtime_imports(ast.parse(path.read_text())):
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
