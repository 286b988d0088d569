"""English and Finnish: pages follow the chosen language, and the catalogue is complete."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.helpers import code_for, sign_in_password, text

SRC = Path(__file__).resolve().parent.parent / "src" / "vahva"
PO = SRC / "locale" / "fi" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def _lang(response: Any) -> str:
    match = re.search(r'<html lang="([^"]+)">', text(response))
    assert match, "every page names its language"
    return match.group(1)


# --- pages in Finnish -------------------------------------------------------------------------


@pytest.mark.django_db
def test_accept_language_fi_gives_finnish_sign_in(client: Client) -> None:
    page = client.get("/signin/", headers={"accept-language": "fi-FI,fi;q=0.9,en;q=0.5"})
    body = text(page)
    assert _lang(page) == "fi"
    assert "<h1>Kirjaudu sisään</h1>" in body
    assert "Sähköpostiosoite" in body
    assert "Salasana" in body
    assert "Etkö pääse kirjautumaan?" in body
    assert "Sign in" not in body


@pytest.mark.django_db
def test_form_errors_and_typed_errors_are_finnish(alice: Any, client: Client, clock: Any) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fi"
    assert "Syötä sähköpostiosoitteesi." in text(client.post("/signin/", {"password": "x"}))
    wrong = sign_in_password(client, password="not the password")
    assert "Sähköpostiosoite tai salasana on väärin." in text(wrong)


@pytest.mark.django_db
def test_language_cookie_gives_finnish_help(client: Client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fi"
    page = client.get("/help/")
    body = text(page)
    assert _lang(page) == "fi"
    for words in (
        "<h1>Monivaiheinen tunnistautuminen</h1>",
        "Jotain, minkä tiedät",
        "Jotain, mitä sinulla on",
        "Jotain, mitä olet",
        "Kadotin puhelimeni. Miten kirjaudun sisään?",
        "ota yhteyttä palvelupisteeseen",
        "Demo University -tiliäsi",
        "http://localhost:8000/setup",
    ):
        assert words in body
    assert "Something you know" not in body


@pytest.mark.django_db
def test_setlang_then_wizard_in_finnish(alice: Any, client: Client, clock: Any) -> None:
    response = client.post("/i18n/setlang/", {"language": "fi", "next": "/signin/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fi"

    assert sign_in_password(client)["Location"] == "/security-info/setup/start/"
    step = client.get("/security-info/setup/")
    body = text(step)
    assert _lang(step) == "fi"
    assert "<h1>Pidä tilisi turvassa</h1>" in body
    assert re.search(r"Kirjautumistapa 1/\d+: Sovellus", body)
    # The App step opens on the vahva app's QR code.
    assert 'alt="QR-koodi vahva-sovellusta varten"' in body
    assert "Odotetaan puhelintasi…" in body
    assert "Haluan käyttää toista todennussovellusta" in body
    assert "Haluan ottaa käyttöön toisen kirjautumistavan" in body
    assert re.search(r"Ei nyt \(kysy uudelleen \d+ päivän kuluttua\)", body)

    enrol = client.get("/security-info/setup/totp/")
    assert "Skannaa tämä QR-koodi sovelluksella." in text(enrol)
    assert "Syötä sovelluksen näyttämä 6-numeroinen koodi" in text(enrol)
    secret = re.search(r'<code id="secret" class="secret">([A-Z2-7 ]+)</code>', text(enrol))
    assert secret
    wrong = client.post("/security-info/setup/totp/", {"code": "12345"}, follow=True)
    assert "Koodissa on 6 numeroa" in text(wrong)

    code = code_for(secret.group(1).replace(" ", ""), clock)
    assert client.post("/security-info/setup/totp/", {"code": code}).status_code == 302
    done = text(client.get("/security-info/setup/done/"))
    assert "Onnistui!" in done
    assert "Oletuskirjautumistapa:" in done
    assert "Todennussovelluksen koodi" in done

    info = text(client.get("/security-info/"))
    assert "<h1>Turvallisuustiedot</h1>" in info
    assert "Viimeisimmät kirjautumiset" in info


@pytest.mark.django_db
def test_switching_back_to_english(client: Client) -> None:
    client.post("/i18n/setlang/", {"language": "fi", "next": "/help/"})
    assert "Kirjaudu sisään" in text(client.get("/signin/"))

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/signin/"})
    assert response["Location"] == "/signin/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    # The cookie wins over a browser that prefers Finnish.
    page = client.get("/signin/", headers={"accept-language": "fi"})
    assert _lang(page) == "en"
    assert "<h1>Sign in</h1>" in text(page)
    assert "Kirjaudu" not in text(page)


@pytest.mark.django_db
def test_english_is_the_default(client: Client) -> None:
    page = client.get("/help/")
    assert _lang(page) == "en"
    assert "Something you know" in text(page)


# --- templates mark every text ----------------------------------------------------------------


def _bare_text(source: str) -> list[str]:
    """Human text in a template that is outside {% translate %} / {% blocktranslate %}."""
    source = re.sub(r"{%\s*blocktranslate.*?endblocktranslate\s*%}", "", source, flags=re.S)
    source = re.sub(r"{%.*?%}|{#.*?#}|{{.*?}}", "", source, flags=re.S)
    found = [
        match.group(0)
        for match in re.finditer(
            r'\b(?:alt|title|aria-label|placeholder)="([^"]*[A-Za-z][^"]*)"', source
        )
    ]
    source = re.sub(r"<[^>]*>", "", source)
    found += [line.strip() for line in source.splitlines() if re.search(r"[A-Za-z]", line)]
    return found


def test_templates_have_no_untranslated_text() -> None:
    templates = sorted(SRC.glob("*/templates/**/*.html"))
    assert templates
    bare = {str(t.relative_to(SRC)): _bare_text(t.read_text()) for t in templates}
    assert {name: lines for name, lines in bare.items() if lines} == {}


# --- the catalogue ---------------------------------------------------------------------------


@dataclass
class Entry:
    flags: set[str] = field(default_factory=set)
    msgid: str = ""
    msgid_plural: str = ""
    msgstr: dict[int, str] = field(default_factory=dict)


def _unquote(line: str) -> str:
    raw = line[line.index('"') + 1 : line.rindex('"')]
    return re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), raw)


def read_po(path: Path) -> tuple[Entry, list[Entry]]:
    """A minimal .po reader: (header, entries); enough for the checks below."""
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#~")]
        if not any(line.startswith("msgid") for line in lines):
            continue
        entry, target = Entry(), ""
        for line in lines:
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith("msgid_plural"):
                target, entry.msgid_plural = "plural", _unquote(line)
            elif line.startswith("msgid"):
                target, entry.msgid = "id", _unquote(line)
            elif line.startswith("msgstr"):
                index = int(line[7]) if line.startswith("msgstr[") else 0
                target, entry.msgstr[index] = f"str{index}", _unquote(line)
            elif line.startswith('"'):
                if target == "id":
                    entry.msgid += _unquote(line)
                elif target == "plural":
                    entry.msgid_plural += _unquote(line)
                else:
                    entry.msgstr[int(target[3:])] += _unquote(line)
        entries.append(entry)
    header = entries.pop(0)
    assert header.msgid == ""
    return header, entries


def test_catalogue_is_complete_and_not_fuzzy() -> None:
    header, entries = read_po(PO)
    assert len(entries) > 100
    assert "fuzzy" not in header.flags
    assert "Language: fi\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header.msgstr[0]
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []
    forms = {0, 1}
    untranslated = [
        e.msgid
        for e in entries
        if not all(e.msgstr.get(i) for i in (forms if e.msgid_plural else {0}))
    ]
    assert untranslated == []


def test_catalogue_keeps_placeholders() -> None:
    _header, entries = read_po(PO)
    for entry in entries:
        expected = sorted(PLACEHOLDER.findall(entry.msgid))
        for translated in filter(None, entry.msgstr.values()):
            assert sorted(PLACEHOLDER.findall(translated)) == expected, entry.msgid


def test_compiled_catalogue_matches_the_po(tmp_path: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext (msgfmt) is not installed")
    fresh = tmp_path / "django.mo"
    # --check also verifies that python-format placeholders agree with the msgid.
    subprocess.run([msgfmt, "--check", "-o", str(fresh), str(PO)], check=True)
    assert MO.exists(), "run `make messages` to compile django.mo"
    with MO.open("rb") as committed, fresh.open("rb") as compiled:
        ours = gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
        theirs = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
    assert ours == theirs, "django.mo is out of date: run `make messages`"
