"""Reading the dev phone from tests: the last code texted to a number, pressing keys.

Texts and calls leave through the outbox after their transaction commits. A test in
pytest-django's ``db`` mode runs inside one transaction that never commits, so these readers
first do what the commit would have done: deliver what waits in the outbox (the same sweep
``vahva outbox`` runs). Tests with ``transaction=True`` see real after-commit delivery.
"""

from __future__ import annotations

import re

from vahva.gateways import dev, outbox
from vahva.gateways.models import DevCall, DevText, OutboxMessage

NUMBER = "+358441234521"


def delivered() -> None:
    """Deliver what the outbox holds, as of when each message was written (the commit a
    ``db`` test never makes would have sent it then)."""
    waiting = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING)
    for pk, written in waiting.order_by("pk").values_list("pk", "created_at"):
        outbox.deliver(pk, now=written)


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
