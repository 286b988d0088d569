"""The vahva app in a phone's browser, against the live server: enrol from the QR link, approve,
deny and report sign-in requests, let one expire, sign in with the app's offline code, and two
phones at once.

The computer and each phone are separate browser contexts (no shared storage: the phone's keys
live in its own IndexedDB). Both use http://localhost, a secure context, so WebCrypto and
service workers work. The live server runs in this process with the test's FakeClock, and each
phone's clock is set to the same moment, so the phone's signed timestamps and offline codes
agree with the server's time; tests move both instead of sleeping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, expect

from tests.e2e.conftest import (
    _REPORT_CSP,
    ALICE,
    BrowserProblems,
    assert_every_control_labelled,
    decode_qr,
    oathtool,
    sign_in,
)
from vahva.authenticator.models import Device
from vahva.clock import FakeClock
from vahva.methods.models import RegisteredMethod

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BOB = "bob@example.org"

#: Long enough for a page's poll (2 s) and the app's (2.5 s) to follow each other.
WAIT = 15_000
PHONE = {"width": 360, "height": 740}
Shot = Callable[[Page, str], Path]


@dataclass
class Phone:
    """One phone with the vahva app open in its browser."""

    context: BrowserContext
    page: Page

    def request(self, title: str = "Sign-in request") -> Locator:
        """The next request with this title still waiting for an answer, as a locator that
        keeps pointing at it once answered."""
        waiting = (
            self.page.locator("article.request")
            .filter(has=self.page.get_by_role("heading", name=title))
            .filter(has=self.page.get_by_role("button", name="Approve"))
        )
        expect(waiting.first).to_be_visible(timeout=WAIT)
        challenge = waiting.first.get_attribute("data-challenge")
        return self.page.locator(f'article.request[data-challenge="{challenge}"]')

    def answer(
        self, number: str | None, button: str = "Approve", title: str = "Sign-in request"
    ) -> Locator:
        """Answer the waiting request (typing ``number`` first, if given)."""
        return self.answer_card(self.request(title), number, button, title)

    def answer_card(
        self, card: Locator, number: str | None, button: str = "Approve", title: str = ""
    ) -> Locator:
        if number is not None:
            label = (
                "Number shown on your computer"
                if title == "Test request"
                else "Number shown where you are signing in"
            )
            card.get_by_label(label).fill(number)
        card.get_by_role("button", name=button, exact=True).click()
        return card


def _watch(context: BrowserContext, problems: BrowserProblems) -> None:
    """The same listeners as the ``problems`` fixture puts on the computer's context."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.console.append((message.text, str(message.location.get("url", ""))))

    context.on("console", on_console)
    context.on("weberror", lambda error: problems.exceptions.append(str(error.error)))
    context.expose_binding("__vahvaCsp", lambda _source, report: problems.csp.append(report))
    context.add_init_script(_REPORT_CSP)


@pytest.fixture
def public_url(settings: Any, live_server: Any) -> str:
    """QR links are built from PUBLIC_URL: point it at the live server."""
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url}
    return str(live_server.url)


@pytest.fixture
def phones(
    browser: Browser, public_url: str, problems: BrowserProblems, clock: FakeClock
) -> Iterator[Callable[..., Phone]]:
    """Open a new phone: its own browser context, 360 px wide, its clock at the server's."""
    opened: list[BrowserContext] = []

    def open_phone(**options: Any) -> Phone:
        context = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, **options
        )
        opened.append(context)
        _watch(context, problems)
        context.clock.set_fixed_time(clock())
        return Phone(context, context.new_page())

    yield open_phone
    for context in opened:
        context.close()


def forgive(problems: BrowserProblems, message: str) -> None:
    """Drop the console errors Chromium itself logs for something the test caused on purpose
    (they must be there: the test checks that the cause happened)."""
    caused = [entry for entry in problems.console if message in entry[0]]
    assert caused, problems.console
    for entry in caused:
        problems.console.remove(entry)


def advance(clock: FakeClock, seconds: float, *phones: Phone) -> None:
    """Move the server's time, and the phones' with it."""
    clock.advance(seconds)
    for phone in phones:
        phone.page.clock.set_fixed_time(clock())


def shown_number(page: Page) -> str:
    """The two-digit number the computer shows for number matching (as a person reads it)."""
    number = page.get_by_role("main").get_by_text(re.compile(r"^\s*\d{2}\s*$")).filter(visible=True)
    expect(number.first).to_be_visible(timeout=WAIT)
    return number.first.inner_text().strip()


def start_app_enrolment(computer: Page, base: str) -> str:
    """Security info → Add method → vahva app; the link under "Can't scan the code?"."""
    if not computer.get_by_role("heading", name="Security info").is_visible():
        computer.goto(base + "/security-info/")
    computer.get_by_role("link", name="Add method").click()
    computer.get_by_label("Which method would you like to add?").select_option(label="vahva app")
    computer.get_by_role("button", name="Add").click()
    expect(computer.get_by_role("img", name="QR code for the vahva app")).to_be_visible()
    computer.get_by_text("Can't scan the code?").click()
    link = computer.get_by_text(re.compile(r"/app/enroll#")).inner_text().strip()
    assert link.startswith(f"{base}/app/enroll#")
    return link


def enrol_phone(computer: Page, phone: Phone, link: str, name: str) -> None:
    """The phone opens the link, adds the account and approves the test request."""
    app = phone.page
    app.goto(link)
    expect(app.get_by_role("heading", name="Add your account to the vahva app")).to_be_visible()
    app.get_by_label("Name of this device").fill(name)
    app.get_by_role("button", name="Add account").click()
    # The code is used up, and gone from the address (and so from the history).
    expect(app).to_have_url(re.compile(r"/app/$"), timeout=WAIT)
    expect(computer.get_by_role("heading", name="Let's try it out")).to_be_visible(timeout=WAIT)
    expect(computer.get_by_text(name, exact=True)).to_be_visible()
    card = phone.answer(shown_number(computer), title="Test request")
    expect(card.get_by_text("Approved", exact=True)).to_be_visible(timeout=WAIT)
    expect(card.get_by_text("You can go back to your computer.")).to_be_visible()


def signed_in_with_an_app(
    computer: Page, phone: Phone, base: str, name: str = "Alice's phone"
) -> None:
    """Alice signs in (skipping the wizard), adds the app on ``phone`` and signs out."""
    sign_in(computer, base)
    computer.get_by_role("button", name="Not now (ask me again in 1 day)").click()
    expect(computer.get_by_role("heading", name="Security info")).to_be_visible()
    enrol_phone(computer, phone, start_app_enrolment(computer, base), name)
    expect(computer.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    computer.get_by_role("button", name="Sign out").click()
    expect(computer.get_by_role("heading", name="You have signed out")).to_be_visible()


def expect_push_page(computer: Page) -> str:
    expect(computer.get_by_text("Approve the sign-in request in the vahva app")).to_be_visible()
    return shown_number(computer)


# --- the tests ---------------------------------------------------------------------------


def test_alice_adds_the_app_and_signs_in_with_it(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    shot: Shot,
) -> None:
    make_user(email=ALICE)
    base = live_server.url
    sign_in(page, base)
    page.get_by_role("button", name="Not now (ask me again in 1 day)").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()

    link = start_app_enrolment(page, base)
    # The QR code and the link under "Can't scan the code?" are the same.
    assert decode_qr(page, "app-1-qr", image="QR code for the vahva app") == link
    phone = phones()
    app = phone.page
    app.goto(link)
    expect(app.get_by_role("heading", name="Add your account to the vahva app")).to_be_visible()
    expect(app.get_by_label("Name of this device")).to_have_value("My phone")
    expect(app.get_by_role("heading", name="Notifications")).to_be_visible()
    shot(app, "app-2-enrol-360")
    app.get_by_label("Name of this device").fill("Alice's phone")
    app.get_by_role("button", name="Add account").click()

    # The computer moves on by itself; the phone shows the test request.
    expect(page.get_by_role("heading", name="Let's try it out")).to_be_visible(timeout=WAIT)
    number = shown_number(page)
    test = phone.request("Test request")
    expect(app).to_have_url(f"{base}/app/")
    expect(test.get_by_text("Demo University")).to_be_visible()
    expect(test.get_by_text(ALICE)).to_be_visible()
    # Nobody signs in with a test request: nothing to report.
    expect(test.get_by_role("button", name="Deny and report")).to_be_hidden()
    shot(app, "app-3-test-request-360")
    phone.answer_card(test, number, title="Test request")
    expect(test.get_by_text("Approved", exact=True)).to_be_visible(timeout=WAIT)

    # The method is saved with the device's name.
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    expect(page.locator("#methods")).to_contain_text("vahva app (Alice's phone)")
    device = Device.objects.get()
    assert device.status == "active"
    assert RegisteredMethod.objects.get().data == {"device": str(device.pk)}

    # Sign out, and in again with the password: now the app is asked.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    sign_in(page, base)
    number = expect_push_page(page)

    request = phone.request()
    expect(request.get_by_role("heading", name="Sign-in request")).to_be_visible()
    expect(request.get_by_text("this organisation's sign-in")).to_be_visible()
    expect(request.get_by_text("127.0.0.1")).to_be_visible()
    expect(request.get_by_text("The sign-in service's own computer")).to_be_visible()
    expect(request.get_by_text("outside the organisation's networks")).to_be_visible()
    expect(phone.page.get_by_role("status").filter(has_text="A new sign-in request")).to_have_count(
        1
    )
    wrong = "10" if number != "10" else "11"
    phone.answer_card(request, wrong)
    expect(request.get_by_role("alert")).to_contain_text("not the number", timeout=WAIT)
    expect(request.get_by_role("button", name="Approve")).to_be_visible()  # the form stays
    assert_every_control_labelled(app)
    shot(app, "app-4-signin-request-360")
    phone.answer_card(request, number)
    expect(request.get_by_text("Approved", exact=True)).to_be_visible(timeout=WAIT)

    # The browser continues by itself.
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    expect(page.locator("#signins tbody tr").filter(has_text="Signed in")).to_have_count(2)

    # Everything fits the phone's 360 px.
    width, client = app.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= client, f"{width}px wide on a {client}px screen"
    shot(app, "app-5-home-360")

    # The link works once: another phone opening it is told so.
    thief = phones()
    thief.page.goto(link)
    thief.page.get_by_role("button", name="Add account").click()
    expect(thief.page.get_by_role("alert")).to_contain_text("already been used")
    expect(thief.page.get_by_role("button", name="Add account")).to_be_enabled()
    assert Device.objects.count() == 1
    problems.assert_none(
        expected_status_at={"/api/device/v1/answer": 400, "/api/device/v1/enroll": 410}
    )


def test_deny_then_deny_and_report(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    mailoutbox: Any,
) -> None:
    make_user(email=ALICE)
    phone = phones()
    signed_in_with_an_app(page, phone, live_server.url)

    sign_in(page, live_server.url)
    expect_push_page(page)
    card = phone.answer(None, "Deny")
    expect(card.get_by_text("Denied. Nobody was signed in.")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Request denied")).to_be_visible(timeout=WAIT)
    card.get_by_role("button", name="Close").click()
    expect(card).to_have_count(0)

    # Send another request: this time it was not Alice.
    page.get_by_role("link", name="Send another request").first.click()
    expect_push_page(page)
    card = phone.answer(None, "Deny and report")
    expect(card.get_by_text("Denied and reported.", exact=False)).to_be_visible(timeout=WAIT)
    expect(card.get_by_text("The helpdesk has been told.", exact=False)).to_be_visible()
    # Final: the page says it was reported, and sends no other request (#19, item 4).
    expect(page.get_by_text("You reported this request as not yours")).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("link", name="Send another request")).to_be_hidden()
    assert [m.to for m in mailoutbox] == [["helpdesk@demo.example"]]
    problems.assert_none()


def test_no_answer_in_time_then_the_offline_code(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    shot: Shot,
) -> None:
    make_user(email=ALICE)
    phone = phones()
    signed_in_with_an_app(page, phone, live_server.url)

    sign_in(page, live_server.url)
    expect_push_page(page)
    request = phone.request()
    advance(clock, 61, phone)  # PUSH_TTL is 60 s
    expect(page.get_by_text("We didn't hear from you")).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("link", name="Send another request")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in another way")).to_be_visible()
    expect(request.get_by_text("This request expired")).to_be_visible(timeout=WAIT)

    # No connection on the phone: the app still opens (its service worker keeps the shell)
    # and its code still works.
    phone.page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    phone.context.set_offline(True)
    phone.page.reload()
    expect(phone.page.get_by_text("No connection.", exact=False)).to_be_visible(timeout=WAIT)
    code = phone.page.get_by_label("Code for signing in without a connection")
    expect(code).to_have_text(re.compile(r"^\d{6}$"))
    shot(phone.page, "app-6-offline-code-360")
    offline_code = code.inner_text()
    # The same code an independent RFC 6238 implementation computes from the saved secret.
    assert offline_code == oathtool(RegisteredMethod.objects.get().secret, clock())
    page.get_by_role("link", name="Sign in another way").click()
    page.get_by_role("link", name=re.compile("vahva app")).first.click()
    page.get_by_text(re.compile("code shown in the app", re.I)).click()
    page.get_by_label("Code", exact=True).fill(offline_code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    expect(page.locator("#signins tbody tr").filter(has_text="Signed in")).to_have_count(2)
    forgive(problems, "net::ERR_INTERNET_DISCONNECTED")  # the offline phone's polls
    problems.assert_none()


def test_two_phones_get_the_request_and_the_first_answer_wins(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    make_user(email=ALICE)
    base = live_server.url
    first = phones()
    signed_in_with_an_app(page, first, base, "Work phone")
    sign_in(page, base)
    first.answer(expect_push_page(page))
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    # The second phone lets the app show notifications; with no push service in a headless
    # browser the subscription fails, silently, and the app polls.
    second = phones(permissions=["notifications"])
    enrol_phone(page, second, start_app_enrolment(page, base), "Home phone")
    expect(page.locator("#methods")).to_contain_text("vahva app (Home phone)", timeout=WAIT)
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, base)
    number = expect_push_page(page)
    on_first = first.request()
    on_second = second.request()
    first.answer_card(on_first, number)
    expect(on_first.get_by_text("Approved", exact=True)).to_be_visible(timeout=WAIT)
    expect(on_second.get_by_text("Answered on another device")).to_be_visible(timeout=WAIT)
    expect(on_second.get_by_role("button", name="Approve")).to_be_hidden()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    # Chromium logs why subscribe() failed (its own message: the app carried on silently).
    forgive(problems, "does not support the Push API")
    problems.assert_none()


def test_one_phone_with_two_accounts(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    """Alice and Bob share a phone (a family tablet, a lab's device): each request says whose
    it is, each account has its own code."""
    base = live_server.url
    make_user(email=ALICE)
    make_user(email=BOB, full_name="Bob")
    phone = phones()
    signed_in_with_an_app(page, phone, base, "Shared phone")
    sign_in(page, base, email=BOB)
    page.get_by_role("button", name="Not now (ask me again in 1 day)").click()
    enrol_phone(page, phone, start_app_enrolment(page, base), "Shared phone")
    expect(page.locator("#methods")).to_contain_text("vahva app (Shared phone)", timeout=WAIT)
    page.get_by_role("button", name="Sign out").click()

    accounts = phone.page.locator("article.account")
    expect(accounts).to_have_count(2)
    expect(accounts.nth(0).get_by_role("heading")).to_have_text(ALICE)
    expect(accounts.nth(1).get_by_role("heading")).to_have_text(BOB)
    codes = phone.page.get_by_label("Code for signing in without a connection")
    expect(codes).to_have_count(2)
    alice_code, bob_code = (c.inner_text() for c in codes.all())
    secrets = {m.user.email: m.secret for m in RegisteredMethod.objects.select_related("user")}
    assert alice_code == oathtool(secrets[ALICE], clock())
    assert bob_code == oathtool(secrets[BOB], clock())

    sign_in(page, base, email=BOB)
    request = phone.request()
    expect(request.get_by_text(BOB)).to_be_visible()
    phone.answer_card(request, expect_push_page(page))
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    problems.assert_none()


def test_remove_the_account_from_the_app(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    make_user(email=ALICE)
    phone = phones()
    signed_in_with_an_app(page, phone, live_server.url)
    app = phone.page
    account = app.locator("article.account").filter(has_text=ALICE)
    account.get_by_role("button", name="Remove from this app").click()
    expect(account.get_by_text("Remove this account from the app?")).to_be_visible()
    account.get_by_role("button", name="Cancel").click()
    expect(account.get_by_role("button", name="Remove from this app")).to_be_focused()
    account.get_by_role("button", name="Remove from this app").click()
    account.get_by_role("button", name="Remove", exact=True).click()
    expect(app.get_by_role("heading", name="Welcome to the vahva app")).to_be_visible(timeout=WAIT)
    assert Device.objects.get().status == "removed"
    # Nothing of the account is left on the phone.
    app.reload()
    expect(app.get_by_role("heading", name="Welcome to the vahva app")).to_be_visible()
    left = app.evaluate(
        """() => new Promise((resolve) => {
             const opening = indexedDB.open("vahva-app", 1);
             opening.onsuccess = () => {
               const all = opening.result.transaction("accounts").objectStore("accounts").getAll();
               all.onsuccess = () => resolve(all.result.length);
             };
           })"""
    )
    assert left == 0
    problems.assert_none()


def test_the_apps_codes_are_rfc_6238_codes(
    live_server: Any, phones: Callable[..., Phone], problems: BrowserProblems, clock: FakeClock
) -> None:
    """The app's TOTP (WebCrypto HMAC, RFC 4226 truncation) against RFC 6238 Appendix B's SHA-1
    vectors and against oathtool, run in the browser that shows them."""
    phone = phones()
    # A link without its code (cut short when copied) says so instead of failing later.
    phone.page.goto(live_server.url + "/app/enroll")
    expect(phone.page.get_by_role("alert")).to_have_text(
        "This link is not complete. Scan the QR code on your computer again."
    )
    expect(phone.page.get_by_role("button", name="Add account")).to_be_hidden()
    phone.page.goto(live_server.url + "/app/")
    expect(phone.page.get_by_role("heading", name="Welcome to the vahva app")).to_be_visible()
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of the RFC's "12345678901234567890"
    codes = phone.page.evaluate(
        """async ([secret, moments]) => {
             const otp = await import("/static/authenticator/otp.js");
             const key = await otp.importTotpKey(secret);
             const codes = [];
             for (const t of moments) codes.push(await otp.totp(key, t, { digits: 8 }));
             codes.push(await otp.totp(key, Date.now() / 1000));
             return codes;
           }""",
        [secret, [59, 1111111109, 1111111111, 1234567890, 2000000000, 20000000000]],
    )
    assert codes[:-1] == [
        "94287082",
        "07081804",
        "14050471",
        "89005924",
        "69279037",
        "65353130",
    ]
    assert codes[-1] == oathtool(secret, clock())
    problems.assert_none()


def test_a_web_push_shows_a_notification_and_wakes_the_app(
    live_server: Any, phones: Callable[..., Phone], problems: BrowserProblems
) -> None:
    """The service worker's push handler, fed by Chromium's DevTools (there is no push
    service here): a notification naming the organisation, and a message to the open app."""
    phone = phones(permissions=["notifications"])
    app = phone.page
    # Listen before the app registers its worker: the registration's id comes as an event.
    registrations: list[str] = []
    cdp = phone.context.new_cdp_session(app)
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(r["registrationId"] for r in event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    app.goto(live_server.url + "/app/")
    assert app.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)") == (
        live_server.url + "/app/"
    )
    assert registrations
    app.evaluate(
        """() => { window.__vahvaMessages = [];
                   navigator.serviceWorker.addEventListener("message",
                     (event) => window.__vahvaMessages.push(event.data)); }"""
    )
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": live_server.url,
            "registrationId": registrations[-1],
            "data": '{"type": "challenge", "challenge": "c-1", "organisation": "Demo University"}',
        },
    )
    # A function, not an expression string: the page's CSP forbids the eval Playwright would
    # use to poll an expression (it worked only when the first look already found it).
    app.wait_for_function("() => window.__vahvaMessages.length > 0")
    assert app.evaluate("window.__vahvaMessages") == [
        {"type": "vahva-challenge", "challenge": "c-1"}
    ]
    shown = app.evaluate(
        """() => navigator.serviceWorker.ready
             .then((r) => r.getNotifications())
             .then((all) => all.map((n) => [n.title, n.body, n.tag]))"""
    )
    assert shown == [
        [
            "Sign-in request",
            "Demo University asks you to approve a sign-in. Open the app to answer.",
            "challenge-c-1",
        ]
    ]
    problems.assert_none()


def test_the_event_stream_reader(
    live_server: Any, phones: Callable[..., Phone], problems: BrowserProblems
) -> None:
    """The app reads the device's event stream with fetch (EventSource cannot sign): events
    split across chunks, CRLF lines, comments (heartbeats) and the retry field."""
    phone = phones()
    phone.page.goto(live_server.url + "/app/")
    events = phone.page.evaluate(
        """async () => {
             const { readEvents } = await import("/static/authenticator/stream.js");
             const parts = ["retry: 2500\\r\\ndata: {\\"pending\\": [\\"a\\"", "]}\\r\\n\\r\\n",
                            ": heartbeat\\n\\n", "data: {\\"pending\\": []}\\n\\n", "data: {"];
             const body = new ReadableStream({
               start(controller) {
                 for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
                 controller.close();
               },
             });
             const seen = [];
             for await (const event of readEvents(new Response(body))) seen.push(event);
             return seen;
           }"""
    )
    assert events == [
        {"data": {"pending": ["a"]}, "retry": 2500},
        {"data": {"pending": []}, "retry": None},
    ]
    problems.assert_none()


def test_push_bombing_one_request_waits_and_three_denials_ask_for_a_code(
    live_server: Any,
    page: Page,
    browser: Browser,
    phones: Callable[..., Phone],
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    mailoutbox: Any,
    shot: Shot,
) -> None:
    """A thief with Alice's password signs in again and again from other browsers: one request
    waits on the phone and the others are told so; after Alice denies three, the sign-in asks
    for the app's code and says why, and Alice and the helpdesk get a mail."""
    make_user(email=ALICE)
    base = live_server.url
    phone = phones()
    signed_in_with_an_app(page, phone, base)

    def thief_browser() -> Page:
        context = browser.new_context()
        _watch(context, problems)
        return context.new_page()

    first, again = thief_browser(), thief_browser()
    sign_in(first, base)
    expect_push_page(first)
    # Several sign-ins in a row: no second request, and never the first one's number.
    for _ in range(3):
        sign_in(again, base)
        expect(again.get_by_role("alert")).to_contain_text(
            "A sign-in request is already waiting on your phone"
        )
        expect(again.locator("#push-number")).to_have_count(0)
    shot(again, "push-bombing-1-already-waiting")
    expect(
        phone.page.locator("article.request").filter(
            has=phone.page.get_by_role("button", name="Approve")
        )
    ).to_have_count(1, timeout=WAIT)

    # Alice denies it, and the next two requests the thief's sign-ins send.
    card = phone.answer(None, "Deny")
    expect(first.get_by_text("Request denied")).to_be_visible(timeout=WAIT)
    card.get_by_role("button", name="Close").click()
    for _ in range(2):
        sign_in(again, base)
        expect_push_page(again)
        card = phone.answer(None, "Deny")
        expect(again.get_by_text("Request denied")).to_be_visible(timeout=WAIT)
        card.get_by_role("button", name="Close").click()

    # The next sign-in sends nothing: it asks for the code in the app and says why.
    sign_in(again, base)
    expect(
        again.get_by_role("heading", name="Sign-in requests to your app are paused")
    ).to_be_visible()
    expect(again.get_by_text("denied, reported or not answered", exact=False)).to_be_visible()
    expect(again.get_by_label("Code", exact=True)).to_be_visible()
    expect(again.locator("#push-number")).to_have_count(0)
    shot(again, "push-bombing-2-code-instead")
    assert sorted(m.to[0] for m in mailoutbox) == [ALICE, "helpdesk@demo.example"]

    # Alice, phone in hand, signs in with the app's code and sees why on Security info.
    sign_in(page, base)
    expect(
        page.get_by_role("heading", name="Sign-in requests to your app are paused")
    ).to_be_visible()
    phone.page.reload()
    code = phone.page.get_by_label("Code for signing in without a connection")
    expect(code).to_have_text(re.compile(r"^\d{6}$"), timeout=WAIT)
    page.get_by_label("Code", exact=True).fill(code.inner_text())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    notice = page.locator("#push-paused")
    expect(notice).to_contain_text("Sign-in requests to your app are paused")
    expect(notice).to_contain_text("Change it now")
    assert (
        phone.page.locator("article.request")
        .filter(has=phone.page.get_by_role("button", name="Approve"))
        .count()
        == 0
    )
    problems.assert_none(expected_status_at={"/signin/verify/": 429})
