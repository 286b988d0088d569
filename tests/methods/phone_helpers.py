"""Reading the dev phone from tests: the last code texted to a number, pressing keys.

Texts and calls leave through the outbox after their transaction commits. A test in
pytest-django's ``db`` mode runs inside one transaction that never commits, so these readers
first do what the commit would have done: deliver what waits in the outbox (the same sweep
``vahva outbox`` runs). Tests with ``transaction=True`` see real after-commit delivery.
"""

from __future__ import annotations

import datetime as dt
import re

from vahva import clock
from vahva.gateways import dev, outbox
from vahva.gateways.models import DevCall, DevText

NUMBER = "+358441234521"


def delivered() -> None:
    """Deliver what the outbox holds (the commit a ``db`` test never makes)."""
    outbox.sweep(now=clock.now(), min_age=dt.timedelta(0))


def last_code(number: str = NUMBER) -> str:
    delivered()
    text = DevText.objects.filter(number=number).first()
    assert text is not None, f"no text to {number}"
    found = re.search(r"\b(\d{6})\b", text.text)
    assert found, text.text
    return found.group(1)


def texts(number: str = NUMBER) -> int:
    delivered()
    return DevText.objects.filter(number=number).count()


def answer_and_press(keys: str, number: str = NUMBER) -> DevCall:
    """Answer the ringing call on the dev phone and press ``keys`` (e.g. "#" or "0#")."""
    delivered()
    call = dev.current_call(number)
    assert call is not None, f"no call to {number}"
    dev.act(call, "answer")
    for key in keys:
        dev.act(call, "key", key)
    return DevCall.objects.get(pk=call.pk)
