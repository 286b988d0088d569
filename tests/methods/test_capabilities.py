"""Capabilities as types (issue #15): outside the methods room nothing reads a behaviour flag
of a method, and one place in the engine calls a method's ``verify``; each method declares
one Answer and one Role, and ``begin`` returns one of the typed challenges."""

from __future__ import annotations

import ast
from pathlib import Path

from vahva.methods import registry
from vahva.methods.base import Answer, Method, Role

SRC = Path(__file__).resolve().parents[2] / "src" / "vahva"
#: The old boolean flags that callers interpreted with if-chains. (``listed`` stays a property
#: derived from the Role, for the rooms that list methods.)
FLAGS = {
    "waits",
    "sends",
    "ceremony",
    "letters",
    "fallback",
    "matches_numbers",
    "typed_code",
    "enrolable",
}
#: The one module that calls Method.verify / verify_for (the engine's second factor).
VERIFIES = "signin/second_factor.py"


def _outside_methods() -> list[Path]:
    return [
        p
        for p in SRC.rglob("*.py")
        if p.relative_to(SRC).parts[0] != "methods" and "migrations" not in p.parts
    ]


def _is_method(node: ast.expr) -> bool:
    """Whether ``node`` reads as a method object: ``registry.get(...)``, ``method``,
    ``registry.typed_code(...)``, or a name that says it is one (``payment_method``)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return isinstance(node.func.value, ast.Name) and node.func.value.id == "registry"
    return isinstance(node, ast.Name) and "method" in node.id


def _flag_reads_in(tree: ast.AST, shown: str) -> list[str]:
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return [
        f"{shown}:{node.lineno}: reads .{node.attr}"
        for node in sorted(
            (
                n
                for n in ast.walk(tree)
                if isinstance(n, ast.Attribute)
                and n.attr in FLAGS
                and id(n) not in calls
                and _is_method(n.value)
            ),
            key=lambda n: (n.lineno, n.col_offset),
        )
    ]


def _flag_reads(path: Path) -> list[str]:
    return _flag_reads_in(ast.parse(path.read_text(), str(path)), str(path.relative_to(SRC)))


def _verify_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("verify", "verify_for")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "method"
        ):
            found.append(f"{path.relative_to(SRC)}:{node.lineno}: calls {node.func.attr}")
    return found


def test_no_room_outside_the_methods_reads_a_behaviour_flag() -> None:
    assert [o for p in _outside_methods() for o in _flag_reads(p)] == []


def test_the_flag_check_can_fail() -> None:
    probe = (
        "def f(method, kind):\n"
        "    return method.waits or registry.get(kind).ceremony or form.letters()\n"
    )
    found = _flag_reads_in(ast.parse(probe), "probe.py")
    assert found == ["probe.py:2: reads .waits", "probe.py:2: reads .ceremony"]


def test_one_place_outside_the_methods_calls_verify() -> None:
    calls = {o.split(":")[0] for p in _outside_methods() for o in _verify_calls(p)}
    assert calls == {VERIFIES}


def test_no_method_class_keeps_a_behaviour_flag() -> None:
    for method in registry.all_methods():
        kept = [name for name in FLAGS if name in vars(type(method)) or hasattr(method, name)]
        assert kept == [], f"{method.kind} still has {kept}"


def test_each_method_declares_one_answer_and_one_role() -> None:
    declared = {m.kind: (m.answer, m.role) for m in registry.all_methods()}
    assert declared == {
        "app_push": (Answer.APP, Role.METHOD),
        "totp": (Answer.HELD_CODE, Role.METHOD),
        "hardware_token": (Answer.HELD_CODE, Role.METHOD),
        "sms": (Answer.SENT_CODE, Role.METHOD),
        "voice": (Answer.APPROVAL, Role.METHOD),
        "webauthn": (Answer.CREDENTIAL, Role.METHOD),
        "recovery": (Answer.LETTERS, Role.FALLBACK),
        "tap": (Answer.LETTERS, Role.STAND_IN),
    }
    # The role is what Security info's list follows: a stand-in is never listed.
    assert [m.kind for m in registry.all_methods() if not m.listed] == ["tap"]
    assert all(isinstance(m, Method) for m in registry.all_methods())
