"""/metrics: off by default, behind a bearer token, and what it counts (sign-ins by method and
outcome, texts and calls and the daily cap, pending pushes, validation checks, push latency),
also across several worker processes (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.authenticator.conftest import number_of
from tests.authenticator.device import TestDevice
from tests.conftest import totp_code
from tests.helpers import sign_in_password
from vahva.audit.log import record
from vahva.metrics import counters, views

# /metrics is mounted and its settings exist (until the project wires them in).
pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-" + "k" * 40
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def enabled(settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "METRICS_ENABLED": True, "METRICS_TOKEN": TOKEN}


@pytest.fixture
def scrape(client: Client, enabled: None) -> Callable[[], Samples]:
    """Read /metrics with the token, as Prometheus does: {(name, labels): value}."""

    def read() -> Samples:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=")
        return parse(response.content.decode())

    return read


@pytest.fixture
def commits(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    """Run what happens inside as if committed (the counters count after the commit)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def app_phone(alice: Any, clock: Any) -> TestDevice:
    """Alice's vahva app, enrolled through the device API (as tests/authenticator does)."""
    from vahva.methods import registry

    method = registry.get("app_push")
    pending = method.start_enrolment(alice, now=clock())
    device = TestDevice(name="Alice's phone")
    assert device.enroll(pending.secret).status_code == 200
    (test,) = device.challenges()
    assert device.answer(test, "approve", number_of(test)).status_code == 200
    method.finish_enrolment(pending, uuid.UUID(test["id"]).hex, now=clock())
    return device


def send_push(user: Any, device: TestDevice, clock: Any) -> Any:
    from vahva.authenticator import service

    return service.push_for_attempt(
        user, attempt=uuid.uuid4(), device_ids=[device.id], now=clock(), context={}
    )


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- the door ------------------------------------------------------------------------------


def test_off_by_default(client: Client) -> None:
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


@pytest.mark.parametrize("token", ["", "too short to be random"])
def test_on_without_a_good_token_is_refused_at_start(token: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from vahva import conf

    with pytest.raises(ImproperlyConfigured, match="METRICS_TOKEN"):
        conf.validate({"METRICS_ENABLED": True, "METRICS_TOKEN": token})


def test_on_without_a_token_the_page_stays_closed(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a configuration get past the settings' check, the page still opens to nobody."""
    monkeypatch.setattr(views, "settings", SimpleNamespace(METRICS_ENABLED=True, METRICS_TOKEN=""))
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", f"Basic {TOKEN}", TOKEN])
def test_without_the_token_it_is_a_401(client: Client, enabled: None, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "vahva_signins" not in response.content.decode()


@pytest.mark.parametrize("token", [TOKEN + "x", TOKEN[:-1], "x" * len(TOKEN), "ä"])
def test_a_wrong_token_is_a_403(client: Client, enabled: None, token: str) -> None:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "vahva_signins" not in response.content.decode()


def test_only_get(client: Client, enabled: None) -> None:
    response = client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 405


def test_the_page_is_not_cached_and_sets_no_cookie(client: Client, enabled: None) -> None:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert not response.cookies


# --- what it counts ------------------------------------------------------------------------


def test_sign_ins_by_method_and_outcome(
    scrape: Callable[[], Samples], commits: Any, alice_totp: Any, clock: Any
) -> None:
    _method, secret = alice_totp
    before = scrape()
    with commits():
        wrong = Client()
        sign_in_password(wrong, password="not the password at all")
        browser = Client()
        sign_in_password(browser)
        browser.post(
            "/signin/verify/", {"code": "000000" if totp_code(secret, clock()) != "000000" else "1"}
        )
        assert (
            browser.post("/signin/verify/", {"code": totp_code(secret, clock())}).status_code == 302
        )
    after = scrape()

    def delta(**labels: str) -> float:
        name = "vahva_signins_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(method="totp", outcome="success") == 1
    assert delta(method="totp", outcome="wrong_code") == 1
    assert delta(method="password", outcome="wrong_password") == 1


def test_a_sign_in_without_a_second_factor_is_method_none(
    scrape: Callable[[], Samples], commits: Any, alice: Any, clock: Any
) -> None:
    before = value(scrape(), "vahva_signins_total", method="none", outcome="success")
    with commits():
        sign_in_password(Client())
    assert value(scrape(), "vahva_signins_total", method="none", outcome="success") == before + 1


def test_a_rolled_back_audit_row_is_not_counted(scrape: Callable[[], Samples], alice: Any) -> None:
    before = value(scrape(), "vahva_signins_total", method="password", outcome="wrong_password")

    def roll_back() -> None:
        with transaction.atomic():
            record("signin.password", subject=alice, outcome="failure", reason="wrong password")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        roll_back()
    after = value(scrape(), "vahva_signins_total", method="password", outcome="wrong_password")
    assert after == before


def test_unknown_labels_stay_bounded(scrape: Callable[[], Samples], commits: Any) -> None:
    with commits():
        record("signin.success", method="<script>" * 10)
        record("phone.limited", outcome="failure", scope="x" * 50, channel="fax")
    samples = scrape()
    assert not any("<script>" in str(labels) for _name, labels in samples)
    assert value(samples, "vahva_signins_total", method="other", outcome="success") >= 1
    assert value(samples, "vahva_phone_refused_total", scope="other", channel="other") >= 1


def test_texts_calls_and_the_daily_cap(
    scrape: Callable[[], Samples], commits: Any, alice: Any, clock: Any, settings: Any
) -> None:
    from vahva.errors import RateLimited
    from vahva.methods.phone import common as phones

    settings.VAHVA = {**settings.VAHVA, "PHONE_DAILY_CAP": 2}
    before = scrape()
    with commits():
        for channel in ("sms", "voice"):
            send = phones.Send("+358401234567", alice, "198.51.100.7", channel)
            phones.reserve_audited(send, now=clock())
        with pytest.raises(RateLimited):
            phones.reserve_audited(phones.Send("+358401234567", alice, None, "sms"), now=clock())
    after = scrape()
    for channel in ("sms", "voice"):
        sent = value(after, "vahva_phone_sends_total", channel=channel)
        assert sent - value(before, "vahva_phone_sends_total", channel=channel) == 1
        assert value(after, "vahva_phone_sends_last_day", channel=channel) == 1
    assert value(after, "vahva_phone_daily_cap") == 2
    refused = value(after, "vahva_phone_refused_total", scope="daily", channel="sms")
    assert refused - value(before, "vahva_phone_refused_total", scope="daily", channel="sms") == 1
    # A day later the cap counts them no more.
    clock.advance(86400 + 1)
    assert value(scrape(), "vahva_phone_sends_last_day", channel="sms") == 0


def test_pending_pushes_from_the_database(
    scrape: Callable[[], Samples], alice: Any, app_phone: TestDevice, clock: Any, settings: Any
) -> None:
    # Two of Alice's requests waiting at once (one at a time by default: push bombing).
    settings.VAHVA = {**settings.VAHVA, "PUSH_MAX_OPEN": 2}
    waiting_before = value(scrape(), "vahva_push_pending", purpose="signin")
    send_push(alice, app_phone, clock)
    send_push(alice, app_phone, clock)
    assert value(scrape(), "vahva_push_pending", purpose="signin") == waiting_before + 2
    clock.advance(3600)  # expired: no longer waiting
    assert value(scrape(), "vahva_push_pending", purpose="signin") == 0


def test_validation_checks(
    scrape: Callable[[], Samples], commits: Any, alice_totp: Any, clock: Any
) -> None:
    from vahva.validate import clients

    key = clients.add("radius").key
    _method, secret = alice_totp
    before = scrape()
    with commits():
        client = Client()
        for code in (totp_code(secret, clock()), totp_code(secret, clock())):
            client.post(
                "/api/validate/v1/check",
                data={"user": "alice@example.org", "code": code},
                content_type="application/json",
                headers={"Authorization": f"Bearer {key}"},
            )
    after = scrape()
    for outcome in ("accepted", "replayed"):
        name = "vahva_validate_checks_total"
        assert value(after, name, outcome=outcome) - value(before, name, outcome=outcome) == 1


def test_push_latency_histogram(scrape: Callable[[], Samples], clock: Any) -> None:
    before = scrape()
    answered = clock()
    counters.observe_push_told(answered, now=answered + dt.timedelta(milliseconds=30))
    counters.observe_push_told(answered, now=answered - dt.timedelta(seconds=1))  # clock skew
    counters.observe_push_told(None, now=answered)  # not answered yet: nothing
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("vahva_push_notify_seconds_count") == 2
    assert delta("vahva_push_notify_seconds_bucket", le="0.005") == 1
    assert delta("vahva_push_notify_seconds_bucket", le="0.05") == 2
    assert delta("vahva_push_notify_seconds_sum") == pytest.approx(0.03)


def test_a_waiting_browser_told_of_an_approval_is_timed(
    scrape: Callable[[], Samples], alice: Any, app_phone: TestDevice, clock: Any
) -> None:
    from vahva.authenticator import challenges

    challenge = send_push(alice, app_phone, clock)
    before = value(scrape(), "vahva_push_notify_seconds_count")
    (waiting,) = app_phone.challenges()
    assert app_phone.answer(waiting, "approve", number_of(challenge)).status_code == 200
    clock.advance(0.02)
    assert challenges.attempt_state(alice, challenge.attempt, now=clock()) == "approved"
    assert value(scrape(), "vahva_push_notify_seconds_count") == before + 1


# --- several worker processes --------------------------------------------------------------


WORKER = textwrap.dedent(
    """
    from vahva.metrics import counters
    counters.SIGNINS.labels(method="totp", outcome="success").inc({n})
    counters.count_send("sms")
    counters.observe_push_told(None, now=None)
    """
)


def test_counts_of_several_workers_add_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """prometheus_client's multiprocess mode: each worker writes its own file in
    PROMETHEUS_MULTIPROC_DIR; whichever worker answers the scrape adds them all up."""
    env = {**os.environ, views.MULTIPROC_DIR: str(tmp_path)}
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", WORKER.format(n=n)], env=env, check=True, timeout=60)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    monkeypatch.setenv(views.MULTIPROC_DIR, str(tmp_path))
    samples = parse(views.exposition().decode())
    assert value(samples, "vahva_signins_total", method="totp", outcome="success") == 5
    assert value(samples, "vahva_phone_sends_total", channel="sms") == 2
    # The database's state is there as well, once.
    assert ("vahva_phone_daily_cap", ()) in samples
