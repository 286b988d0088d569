"""Methods are plug-ins: outside a method's own module or package, nothing names a method
kind or imports a method's module; the rest of vahva reaches methods through the Method
interface, the registry and the methods service only (issue #15, DESIGN §3)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from vahva.methods import installed, registry

SRC = Path(__file__).resolve().parents[2] / "src" / "vahva"
#: What other rooms may import of the methods room: its interface (with the typed challenges
#: that ``begin`` returns) and its public service.
INTERFACE = {"base", "challenges", "registry", "service", "models", "installed"}
#: Files that still name a kind, and why; this list only shrinks.
KNOWN: set[str] = set()


def _kinds() -> set[str]:
    return {m.kind for m in registry.all_methods()}


def _outside_methods(pattern: str) -> list[Path]:
    return [
        p
        for p in SRC.rglob(pattern)
        if "methods" not in p.relative_to(SRC).parts[:1]
        and "migrations" not in p.parts
        # The phone gateway's channels ("sms", "call") are its own words, not method kinds.
        and p.relative_to(SRC).parts[0] != "gateways"
        and str(p.relative_to(SRC)) not in KNOWN
    ]


def _python_offences(path: Path, kinds: set[str], label: str = "") -> list[str]:
    shown = label or str(path.relative_to(SRC))
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and node.value in kinds:
            found.append(f"{shown}:{node.lineno}: names the kind {node.value!r}")
        if isinstance(node, ast.ImportFrom) and node.module:
            names = (
                [node.module]
                if node.module != "vahva.methods"
                else [f"vahva.methods.{alias.name}" for alias in node.names]
            )
            for name in names:
                parts = name.split(".")
                if (
                    parts[:2] == ["vahva", "methods"]
                    and len(parts) > 2
                    and parts[2] not in INTERFACE
                ):
                    found.append(f"{shown}:{node.lineno}: imports {name}")
    return found


def test_no_python_outside_the_methods_names_a_method_kind() -> None:
    kinds = _kinds()
    offences = [o for p in _outside_methods("*.py") for o in _python_offences(p, kinds)]
    assert offences == []


def test_no_template_outside_the_methods_names_a_method_kind() -> None:
    kinds = "|".join(sorted(_kinds()))
    named = re.compile(rf"""(['"]({kinds})['"]|methods/({kinds})/)""")
    offences = [
        f"{p.relative_to(SRC)}: {m.group(0)}"
        for p in _outside_methods("*.html")
        for m in named.finditer(p.read_text())
    ]
    assert offences == []


def test_the_check_catches_a_kind_named_outside(tmp_path: Path) -> None:
    # The scan itself can fail: a line naming a kind, or importing a method's module, is found.
    # (The probe is written outside the source tree: other workers scan it at the same time.)
    sample = SRC / "signin" / "codes.py"
    probe = tmp_path / "codes.py"
    probe.write_text(sample.read_text() + '\nfrom vahva.methods import totp\nKIND = "totp"\n')
    found = _python_offences(probe, _kinds(), label="signin/codes.py (probe)")
    assert any("imports vahva.methods.totp" in o for o in found)
    assert any("names the kind 'totp'" in o for o in found)


def test_the_known_exceptions_still_need_to_be_there() -> None:
    # A file in KNOWN that no longer names a kind must leave the list (it only shrinks).
    kinds = _kinds()
    pattern = re.compile(
        rf"""['"]({"|".join(sorted(kinds))})['"]|methods/({"|".join(sorted(kinds))})/"""
    )
    for name in KNOWN:
        path = SRC / name
        if path.suffix == ".py":
            assert _python_offences(path, kinds), f"{name} names no kind any more"
        else:
            assert pattern.search(path.read_text()), f"{name} names no kind any more"


def test_installed_methods_come_from_the_setting_and_bring_their_apps() -> None:
    assert [type(m).__module__ + "." + type(m).__name__ for m in registry.all_methods()] == list(
        installed.BUILTIN
    )
    # The token method lives in its own package, a Django app with its own models.
    assert installed.apps_of(installed.BUILTIN) == [
        "vahva.methods.hardware_token",
        "vahva.methods.phone",
        "vahva.methods.webauthn",
        "vahva.methods.recovery_codes",
    ]


def test_a_bad_method_path_is_a_system_check_error_naming_it() -> None:
    paths = (*installed.BUILTIN, "vahva.methods.nosuch.Method", "vahva.methods.totp.step_of")
    try:
        with override_settings(VAHVA_METHODS=paths):
            registry.load()
            errors = [e for e in run_checks() if e.id in ("vahva.E300", "vahva.E301")]
    finally:
        registry.load()
    messages = [e.msg for e in errors]
    assert any("'vahva.methods.nosuch.Method' cannot be imported" in m for m in messages)
    assert any("'vahva.methods.totp.step_of' is not a sign-in method class" in m for m in messages)


def test_a_deployment_may_leave_a_method_out() -> None:
    paths = tuple(p for p in installed.BUILTIN if not p.endswith("VoiceMethod"))
    try:
        with override_settings(VAHVA_METHODS=paths):
            registry.load()
            assert "voice" not in _kinds()
            assert not [e for e in run_checks() if e.id.startswith("vahva.E30")]
    finally:
        registry.load()
    assert "voice" in _kinds()


def test_the_config_file_chooses_the_methods(tmp_path: Path) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from vahva.conf import validate
    from vahva.settings.config import load

    path = tmp_path / "vahva.toml"
    without_calls = [p for p in installed.BUILTIN if not p.endswith("VoiceMethod")]
    listed = ", ".join(f'"{p}"' for p in without_calls)
    path.write_text(f"[vahva]\nmethods = [{listed}]\n")
    values = validate(load({"VAHVA_CONFIG": str(path)}).vahva)
    assert values["METHODS"] == tuple(without_calls)
    path.write_text('[vahva]\nmethods = ["not a path"]\n')
    with pytest.raises(ImproperlyConfigured, match=r"VAHVA\['METHODS'\]"):
        validate(load({"VAHVA_CONFIG": str(path)}).vahva)
