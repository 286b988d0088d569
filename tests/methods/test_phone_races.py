"""SMS pumping in parallel: 50 simultaneous "Text me a code" / "Call me" / Resend requests,
each a thread with its own database connection, get no more texts or calls to the gateway
than the limit allows, and no more sends counted (reserve first, not check-then-act)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from tests.gateways import recording
from tests.gateways.recording import RecordingGateway, RecordingMail
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.errors import RateLimited
from vahva.methods import challenges, registry, service
from vahva.methods.base import AttemptRef
from vahva.methods.models import PendingEnrolment
from vahva.methods.phone.models import PhoneSend

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "+358441234521"
BURST = 50
CAP = 5  # PHONE_LIMITS["number"], the default


@pytest.fixture
def gateway(settings: Any) -> Iterator[type[RecordingGateway]]:
    recording.use(settings)
    settings.VAHVA = {**settings.VAHVA, "PHONE_LIMITS": {"number": CAP}}
    yield RecordingGateway
    RecordingGateway.reset()


def burst(requests: list[Callable[[], object]]) -> Counter[str]:
    """Run each request in its own thread at once; count the outcomes by kind."""
    start = threading.Barrier(len(requests))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(request: Callable[[], object]) -> None:
        try:
            start.wait()
            # A sign-in's text or call refused by a limit is what its page shows (nothing
            # sent, until when), not an error; an enrolment's refusal is raised.
            shown = request()
            outcome = "LimitReached" if isinstance(shown, challenges.LimitReached) else "sent"
        except RateLimited as exc:
            outcome = type(exc).__name__
        except Exception as exc:  # anything else is a failure of the test, shown below
            outcome = f"error {type(exc).__name__}: {exc}"
        finally:
            connection.close()  # each thread's own connection
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return outcomes


def _registered(user: Any, kind: str, clock: FakeClock) -> Any:
    return service.save_new(
        user, kind, now=clock() - dt.timedelta(hours=1), data={"number": NUMBER}
    )


@pytest.mark.parametrize("kind", ["sms", "voice"])
def test_fifty_parallel_sign_in_sends_get_no_more_than_the_cap(
    kind: str, gateway: type[RecordingGateway], alice: Any, clock: FakeClock
) -> None:
    """An attacker with the password opens 50 sign-ins and asks for a text (call) in each."""
    registered = _registered(alice, kind, clock)
    method = registry.get(kind)

    def sign_in(n: int) -> Callable[[], object]:
        attempt = AttemptRef(id=str(uuid.uuid4()), ip=f"198.51.100.{n}")
        return lambda: method.begin(registered, now=clock(), attempt=attempt)

    outcomes = burst([sign_in(n) for n in range(BURST)])
    assert outcomes == Counter({"sent": CAP, "LimitReached": BURST - CAP}), outcomes
    sent = recording.texts() if kind == "sms" else recording.calls()
    assert len(sent) == CAP
    assert RecordingGateway.seen == sent
    assert not any(s.in_transaction for s in sent)
    assert PhoneSend.objects.count() == CAP
    # Every refusal audited; the helpdesk alerted once, not 45 times.
    assert AuditEvent.objects.filter(action="phone.limited").count() == BURST - CAP
    assert [m.to for m in RecordingMail.seen] == ["helpdesk@demo.example"]


def test_fifty_parallel_resends_of_one_sign_in_text_once(
    gateway: type[RecordingGateway], alice: Any, clock: FakeClock
) -> None:
    registered = _registered(alice, "sms", clock)
    method = registry.get("sms")
    attempt = AttemptRef(id=str(uuid.uuid4()), ip="198.51.100.7", resend=True)
    outcomes = burst([lambda: method.begin(registered, now=clock(), attempt=attempt)] * BURST)
    # The first texts; the others come within the resend wait.
    assert outcomes["sent"] == 1, outcomes
    assert outcomes["RateLimited"] == BURST - 1, outcomes
    assert len(recording.texts()) == 1
    assert PhoneSend.objects.count() == 1


@pytest.mark.parametrize("delivery", ["sms", "voice"])
def test_fifty_parallel_enrolments_to_one_number_get_no_more_than_the_cap(
    delivery: str, gateway: type[RecordingGateway], make_user: Any, clock: FakeClock
) -> None:
    """Fifty accounts (or one account's fifty enrolment pages) pump one number."""
    method = registry.get(delivery)
    pendings = [
        method.start_enrolment(make_user(f"p{n}@example.org"), now=clock()) for n in range(BURST)
    ]
    form = {"number": "044 1234521", "country": "FI", "delivery": delivery}

    def enrol(pending: PendingEnrolment) -> Callable[[], object]:
        return lambda: method.enrolment_action(pending, "send", form, now=clock(), ip="192.0.2.9")

    outcomes = burst([enrol(p) for p in pendings])
    assert outcomes == Counter({"sent": CAP, "LimitReached": BURST - CAP}), outcomes
    assert len(RecordingGateway.seen) == CAP
    assert not any(s.in_transaction for s in RecordingGateway.seen)
    assert PhoneSend.objects.count() == CAP
    # The refused enrolments saved nothing: they still ask for a number.
    assert PendingEnrolment.objects.filter(data={}).count() == BURST - CAP


def test_fifty_clicks_on_one_enrolment_text_once(
    gateway: type[RecordingGateway], alice: Any, clock: FakeClock
) -> None:
    method = registry.get("sms")
    pending = method.start_enrolment(alice, now=clock())
    form = {"number": "044 1234521", "country": "FI", "delivery": "sms"}
    outcomes = burst(
        [lambda: method.enrolment_action(pending, "send", form, now=clock(), ip=None)] * BURST
    )
    assert outcomes == Counter({"sent": BURST}), outcomes  # a double click is not an error
    assert len(recording.texts()) == 1
    assert PhoneSend.objects.count() == 1
