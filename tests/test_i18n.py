"""English, Finnish and Swedish: pages follow the chosen language, the catalogues are complete,
and no page shows an English message of the catalogue in Finnish or Swedish."""

from __future__ import annotations

import gettext
import html
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from tests.helpers import code_for, force_mfa_login, sign_in_password, text

SRC = Path(__file__).resolve().parent.parent / "src" / "vahva"
#: The languages besides English, each with a complete catalogue.
TRANSLATED = ("fi", "sv")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
#: Markup inside a message: a translation keeps the same tags.
TAG = re.compile(r"<[^>]+>")


def po_path(language: str) -> Path:
    return SRC / "locale" / language / "LC_MESSAGES" / "django.po"


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


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogue_is_complete_and_not_fuzzy(language: str) -> None:
    header, entries = read_po(po_path(language))
    assert len(entries) > 100
    assert "fuzzy" not in header.flags
    assert f"Language: {language}\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header.msgstr[0]
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []
    forms = {0, 1}
    untranslated = [
        e.msgid
        for e in entries
        if not all(e.msgstr.get(i, "").strip() for i in (forms if e.msgid_plural else {0}))
    ]
    assert untranslated == []


def test_finnish_and_swedish_translate_the_same_messages() -> None:
    """A message added for one language and forgotten in the other shows in English there."""
    (_fi_header, fi), (_sv_header, sv) = (read_po(po_path(language)) for language in TRANSLATED)
    assert {(e.msgid, e.msgid_plural) for e in fi} == {(e.msgid, e.msgid_plural) for e in sv}


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogue_keeps_placeholders_and_markup(language: str) -> None:
    _header, entries = read_po(po_path(language))
    for entry in entries:
        expected = sorted(PLACEHOLDER.findall(entry.msgid))
        for translated in filter(None, entry.msgstr.values()):
            assert sorted(PLACEHOLDER.findall(translated)) == expected, entry.msgid
    for entry in entries:
        # Tags carry ids the pages' scripts and tests find (id="known-number", data-field).
        tags = sorted(TAG.findall(entry.msgid))
        for translated in filter(None, entry.msgstr.values()):
            assert sorted(TAG.findall(translated)) == tags, entry.msgid


@pytest.mark.parametrize("language", TRANSLATED)
def test_compiled_catalogue_matches_the_po(language: str, tmp_path: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext (msgfmt) is not installed")
    po = po_path(language)
    mo = po.with_suffix(".mo")
    fresh = tmp_path / "django.mo"
    # --check also verifies that python-format placeholders agree with the msgid.
    subprocess.run([msgfmt, "--check", "-o", str(fresh), str(po)], check=True)
    assert mo.exists(), "run `make messages` to compile django.mo"
    with mo.open("rb") as committed, fresh.open("rb") as compiled:
        ours = gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
        theirs = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
    assert ours == theirs, "django.mo is out of date: run `make messages`"


# --- every page in Finnish and Swedish: no English message of the catalogue -----------------

#: A message's literal text between placeholders and tags.
_PIECES = re.compile(r"%\(\w+\)[sd]|\{\w+\}|%%|<[^>]+>|\n")


def english_messages(language: str) -> list[str]:
    """The catalogue's English texts a page in ``language`` must not show: whole messages,
    and of messages with placeholders their pieces of three words or more. Words that the
    language shares with English (a translation uses them too: "Person", "iPhone") are not
    English there."""
    _header, entries = read_po(po_path(language))
    translated = "\n".join(s for e in entries for s in e.msgstr.values())
    found: set[str] = set()
    for entry in entries:
        for source in filter(None, (entry.msgid, entry.msgid_plural)):
            pieces = [p.strip(' .,:;()“”"') for p in _PIECES.split(source)]
            if len(pieces) == 1:
                found.add(pieces[0])
            else:
                found.update(p for p in pieces if len(p.split()) >= 3)
    return sorted(
        m
        for m in found
        if m and re.search(r"[A-Za-z]", m) and not re.search(rf"\b{re.escape(m)}\b", translated)
    )


def visible_text(response: Any) -> str:
    """What a person sees or a screen reader reads on a page: its text and its alt, title,
    aria-label, placeholder and value attributes; not scripts, styles or the page's code."""
    page = text(response)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    attributes = re.findall(r'\b(?:alt|title|aria-label|placeholder|value)="([^"]*)"', page)
    words = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(" ".join([words, *attributes]))


def english_on(response: Any, messages: list[str]) -> list[str]:
    shown = " ".join(visible_text(response).split())
    # A word inside an address or a name of code is no message: helpdesk@example.org,
    # /help/feedback/, helpdesk.caller_check (the log's action names, for the CSV's readers).
    return [
        m for m in messages if re.search(rf"(?<![\w@./-]){re.escape(m)}(?![\w@/-]|\.\w)", shown)
    ]


def walk(language: str, alice: Any, make_user: Any, clock: Any) -> dict[str, Any]:
    """The main pages as a newcomer, a member signing in and a helpdesk agent see them, in
    ``language`` (chosen with the language switch, remembered in its cookie)."""
    from django.contrib.auth.models import Permission

    from vahva.accounts.models import User

    def browser() -> Client:
        client = Client()
        chosen = client.post("/i18n/setlang/", {"language": language, "next": "/signin/"})
        assert chosen.cookies[settings.LANGUAGE_COOKIE_NAME].value == language
        return client

    pages: dict[str, Any] = {}
    newcomer = browser()
    for path in ("/signin/", "/help/", "/help/feedback/", "/password/forgot/", "/app/"):
        pages[path] = newcomer.get(path)
    pages["not found"] = newcomer.get("/no-such-page/")
    pages["wrong password"] = sign_in_password(newcomer, password="not the password")

    # Alice registers: the wizard, an authenticator app, Security info.
    assert sign_in_password(newcomer)["Location"] == "/security-info/setup/start/"
    for path in (
        "/security-info/setup/",
        "/security-info/setup/choose/",
        "/security-info/setup/sms/",
        "/security-info/setup/totp/",
    ):
        pages[path] = newcomer.get(path, follow=True)
    # A wrong code redirects (post/redirect/get) to the step, which says so with a 400.
    pages["wrong code"] = newcomer.post(
        "/security-info/setup/totp/", {"code": "12345"}, follow=True
    )
    secret = re.search(
        r'<code id="secret" class="secret">([A-Z2-7 ]+)</code>', text(pages["wrong code"])
    )
    assert secret
    code = code_for(secret.group(1).replace(" ", ""), clock)
    assert newcomer.post("/security-info/setup/totp/", {"code": code}).status_code == 302
    for path in (
        "/security-info/setup/done/",
        "/security-info/",
        "/security-info/add/",
        "/security-info/add/recovery/",
        "/security-info/password/",  # asks for the password again first
    ):
        pages[path] = newcomer.get(path, follow=True)

    # Alice signs in again elsewhere: the second step and its other ways.
    member = browser()
    clock.advance(3 * 3600)  # past the activation delay: the second step is asked now
    assert sign_in_password(member)["Location"] == "/signin/verify/"
    pages["/signin/verify/"] = member.get("/signin/verify/")
    pages["/signin/other/"] = member.get("/signin/other/")

    # A helpdesk agent looks Alice up.
    agent = make_user("agent@example.org", full_name="Helga Helpdesk", is_staff=True)
    agent.user_permissions.add(
        Permission.objects.get(codename="access", content_type__app_label="helpdesk")
    )
    desk = browser()
    force_mfa_login(desk, User.objects.get(pk=agent.pk))
    for path in ("/helpdesk/?q=alice", "/helpdesk/sign-ins/", "/helpdesk/adoption/"):
        pages[path] = desk.get(path)
    pages["/helpdesk/people/{alice}/"] = desk.get(f"/helpdesk/people/{alice.pk}/")
    issue = {"pass-ticket": "INC-1", "pass-lifetime": "3600", "pass-use": "one_time"}
    pages["temporary pass"] = desk.post(f"/helpdesk/people/{alice.pk}/pass/", issue, follow=True)
    pages["no ticket"] = desk.post(
        f"/helpdesk/people/{alice.pk}/pass/", {**issue, "pass-ticket": ""}
    )
    for name, page in pages.items():
        assert page.status_code in (200, 400, 404), (name, page.status_code)
        assert _lang(page) == language, name
    return pages


#: A few words each page of the walk shows, in Finnish and in Swedish.
KNOWN: dict[str, list[tuple[str, str]]] = {
    "/signin/": [
        ("Kirjaudu sisään", "Logga in"),
        ("Etkö pääse kirjautumaan?", "Kan du inte logga in?"),
    ],
    "/help/": [
        ("Usein kysytyt kysymykset", "Vanliga frågor"),
        (
            "Kadotin puhelimeni. Miten kirjaudun sisään?",
            "Jag har tappat bort min telefon. Hur loggar jag in?",
        ),
    ],
    "/help/feedback/": [("Lähetä palaute", "Skicka respons")],
    "/password/forgot/": [("Unohditko salasanasi?", "Glömt ditt lösenord?")],
    "/app/": [("Tervetuloa vahva-sovellukseen", "Välkommen till vahva-appen")],
    "not found": [("Sivua ei löytynyt", "Sidan hittades inte")],
    "wrong password": [
        (
            "Sähköpostiosoite tai salasana on väärin.",
            "E-postadressen eller lösenordet är inte rätt.",
        )
    ],
    "/security-info/setup/": [
        ("Pidä tilisi turvassa", "Håll ditt konto säkert"),
        (
            "Organisaatiosi pyytää sinua ottamaan käyttöön nämä tavat todistaa henkilöllisyytesi.",
            "Din organisation ber dig ställa in de här sätten att bevisa vem du är.",
        ),
    ],
    "/security-info/setup/choose/": [
        ("Minkä kirjautumistavan haluat lisätä?", "Vilken metod vill du lägga till?")
    ],
    "/security-info/setup/sms/": [
        ("Mitä puhelinnumeroa haluat käyttää?", "Vilket telefonnummer vill du använda?"),
        ("Soita minulle", "Ring mig"),
    ],
    "/security-info/setup/totp/": [
        ("Skannaa tämä QR-koodi sovelluksella.", "Skanna den här QR-koden med appen.")
    ],
    "wrong code": [("Koodissa on 6 numeroa", "Koden har 6 siffror")],
    "/security-info/setup/done/": [("Onnistui!", "Klart!")],
    "/security-info/": [
        ("Turvallisuustiedot", "Säkerhetsinformation"),
        ("Kirjautumistapasi", "Dina inloggningsmetoder"),
    ],
    "/security-info/add/": [("Lisää kirjautumistapa", "Lägg till en metod")],
    "/security-info/add/recovery/": [("Tallensin ne", "Jag har sparat dem")],
    "/security-info/password/": [("Vahvista, että se olet sinä", "Bekräfta att det är du")],
    "/signin/verify/": [("Vahvista henkilöllisyytesi", "Verifiera din identitet")],
    "/signin/other/": [("Kirjaudu toisella tavalla", "Logga in på ett annat sätt")],
    "/helpdesk/?q=alice": [("Löydetyt henkilöt", "Hittade personer")],
    "/helpdesk/people/{alice}/": [
        ("Väliaikainen pääsykoodi", "Tillfälligt åtkomstpass"),
        ("Myönnä vapautus", "Bevilja undantag"),
    ],
    "temporary pass": [
        ("Väliaikainen pääsykoodi", "Tillfälligt åtkomstpass"),
        ("Mitä henkilö tekee seuraavaksi", "Vad personen gör härnäst"),
    ],
    "no ticket": [("Syötä tukipyynnön numero.", "Ange helpdeskens ärendenummer.")],
    "/helpdesk/sign-ins/": [
        ("Kirjautumisloki", "Inloggningslogg"),
        ("Salasana oli väärin.", "Lösenordet var fel."),
    ],
    "/helpdesk/adoption/": [("Käyttöön otetut kirjautumistavat", "Registrerade metoder")],
}


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.django_db
def test_pages_speak_the_chosen_language(
    language: str, alice: Any, make_user: Any, clock: Any
) -> None:
    """Every page of the walk, in Finnish and in Swedish: a few words of its own in the
    chosen language, and none of the catalogue's English messages."""
    messages = english_messages(language)
    assert "Sign in another way" in messages
    # A word both languages share is not English on the page.
    assert ("Person" in messages) == (language == "fi")
    # The check sees English where there is some: the help page in English.
    assert "Frequently asked questions" in english_on(Client().get("/help/"), messages)

    pages = walk(language, alice, make_user, clock)
    assert set(pages) == set(KNOWN)
    column = TRANSLATED.index(language)
    missing = {
        name: [words[column] for words in known if words[column] not in visible_text(pages[name])]
        for name, known in KNOWN.items()
    }
    assert {name: words for name, words in missing.items() if words} == {}

    english = {name: english_on(page, messages) for name, page in pages.items()}
    assert {name: found for name, found in english.items() if found} == {}


# --- texts, calls and mail in Swedish -------------------------------------------------------


def _swedish(client: Client) -> Client:
    client.post("/i18n/setlang/", {"language": "sv", "next": "/signin/"})
    return client


@pytest.mark.django_db
def test_a_swedish_speaker_gets_a_swedish_text(alice: Any, client: Client, clock: Any) -> None:
    from tests.methods.phone_helpers import last_code

    assert sign_in_password(_swedish(client))["Location"] == "/security-info/setup/start/"
    client.get("/security-info/setup/sms/")
    form = {"action": "send", "country": "FI", "number": "044 1234521", "delivery": "sms"}
    assert client.post("/security-info/setup/sms/", form).status_code == 302
    code = last_code()

    from vahva.conf import settings as vahva_settings
    from vahva.gateways.models import DevText

    minutes = vahva_settings.PHONE_CODE_TTL // 60
    assert DevText.objects.get().text == (
        f"{code} är din inloggningskod för Demo University. Den är giltig i {minutes} minuter. "
        "Ge den aldrig till någon: Demo University ber aldrig om den."
    )


@pytest.mark.django_db
def test_a_swedish_speakers_call_speaks_swedish_to_the_end(
    alice: Any, client: Client, clock: Any
) -> None:
    """The keys come back on the provider's webhook, a request with no language of the
    person's: the reply is still in the language the call began in."""
    from tests.methods.phone_helpers import answer_and_press, delivered
    from vahva.gateways import dev

    assert alice.language == ""  # only the browser's choice says Swedish
    assert sign_in_password(_swedish(client))["Location"] == "/security-info/setup/start/"
    client.get("/security-info/setup/voice/")
    form = {"action": "send", "country": "FI", "number": "044 1234521", "delivery": "voice"}
    assert client.post("/security-info/setup/voice/", form).status_code == 302
    delivered()
    call = dev.current_call("+358441234521")
    assert call is not None
    assert call.say.startswith("Hej, det här är Demo University.")
    assert "tryck på fyrkant" in call.say
    # The provider's webhook: no cookie, no Accept-Language, so the default language.
    with translation.override(settings.LANGUAGE_CODE):
        assert answer_and_press("#").heard == "Tack. Du kan lägga på nu."


def test_twilio_speaks_swedish_as_sv_se() -> None:
    import xml.etree.ElementTree as ET

    from vahva.gateways.twilio import gather_twiml, goodbye_twiml, say_language

    assert say_language("sv") == "sv-SE"
    gathered = ET.fromstring(gather_twiml("Tryck fyrkant.", action="https://x/g", language="sv"))  # noqa: S314
    say = gathered.find("Gather/Say")
    assert say is not None
    assert (say.get("language"), say.text) == ("sv-SE", "Tryck fyrkant.")
    goodbye = ET.fromstring(goodbye_twiml("Hej då.", language="sv")).find("Say")  # noqa: S314
    assert goodbye is not None
    assert goodbye.get("language") == "sv-SE"


@pytest.mark.django_db
def test_a_swedish_speaker_gets_a_swedish_mail(alice: Any, client: Client, clock: Any) -> None:
    from django.core import mail

    from vahva.registration import passwords

    page = _swedish(client).post("/password/forgot/", {"email": "alice@example.org"}, follow=True)
    assert "Kontrollera din e-post" in text(page)
    passwords.wait_for_mail()
    (sent,) = mail.outbox
    assert sent.subject == "Ett nytt lösenord för Demo University"
    assert sent.body.startswith(
        "Någon har bett om ett nytt lösenord för ditt konto hos Demo University.\n"
        "Öppna den här länken inom 15 minuter för att välja ett nytt:\n"
    )


@pytest.mark.django_db
def test_the_apps_notifications_are_swedish(client: Client) -> None:
    """The service worker (a template that renders JavaScript) shows the notifications:
    its texts are in the catalogue too (`make messages` reads templates/**/*.js)."""
    worker = text(_swedish(client).get("/app/sw.js"))
    assert 'title: "Inloggningsbegäran"' in worker
    assert "{organisation} ber dig godkänna en inloggning. Öppna appen för att svara." in worker
    assert "Öppna appen för att godkänna eller neka en inloggning." in worker
    assert 'helpdeskTitle: "Helpdesken kontrollerar att det är du"' in worker
    assert "Öppna appen och skriv numret som helpdesken läser upp för dig." in worker


# --- the code's messages are all in the catalogue -------------------------------------------

_GETTEXT = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"}
#: Messages the code marks but `make messages` cannot extract, with why: the lead fixes the
#: code, adds the translations and removes the entry (the test then insists on both).
NOT_EXTRACTED: dict[str, str] = {}


def marked_in_code() -> set[str]:
    """Every literal message the Python code hands to gettext (ast, so f-strings count)."""
    import ast

    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        if "settings" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in _GETTEXT:
                found.update(
                    arg.value
                    for arg in node.args[: 2 if name.startswith("n") else 1]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                )
    return found


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_of_the_code_is_in_the_catalogue(language: str) -> None:
    _header, entries = read_po(po_path(language))
    catalogue = {e.msgid for e in entries} | {e.msgid_plural for e in entries}
    code = marked_in_code()
    assert len(code) > 300
    assert {m: NOT_EXTRACTED.get(m, "?") for m in code - catalogue} == NOT_EXTRACTED


# --- strings that could not be translated (#19 item 14) ------------------------------------


def test_the_command_line_hint_names_the_page_in_finnish(client: Client) -> None:
    """The enrol page's command for the command-line client: its placeholder was marked inside
    an f-string, never extracted, and stayed English."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fi"
    page = html.unescape(text(client.get("/app/enroll")))
    assert "vahva authenticator enroll 'tämän sivun osoite'" in page
    assert "address of this page" not in page


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "It is valid for 1 minute."),
        ("fi", "Se on voimassa 1 minuutin."),
        ("sv", "Den är giltig i 1 minut."),
    ],
)
def test_a_code_valid_for_one_minute_says_one_minute(
    language: str, said: str, settings: Any
) -> None:
    from vahva.methods.phone import sms

    settings.VAHVA = {**settings.VAHVA, "PHONE_CODE_TTL": 60}
    assert said in sms.message("123456", language=language)
    settings.VAHVA = {**settings.VAHVA, "PHONE_CODE_TTL": 300}
    assert "5 minu" in sms.message("123456", language=language)
