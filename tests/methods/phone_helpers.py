"""Reading the dev phone from tests: the last code texted to a number, pressing keys."""

from __future__ import annotations

import re

from vahva.gateways import dev
from vahva.gateways.models import DevCall, DevText

NUMBER = "+358441234521"


def last_code(number: str = NUMBER) -> str:
    text = DevText.objects.filter(number=number).first()
    assert text is not None, f"no text to {number}"
    found = re.search(r"\b(\d{6})\b", text.text)
    assert found, text.text
    return found.group(1)


def texts(number: str = NUMBER) -> int:
    return DevText.objects.filter(number=number).count()


def answer_and_press(keys: str, number: str = NUMBER) -> DevCall:
    """Answer the ringing call on the dev phone and press ``keys`` (e.g. "#" or "0#")."""
    call = dev.current_call(number)
    assert call is not None, f"no call to {number}"
    dev.act(call, "answer")
    for key in keys:
        dev.act(call, "key", key)
    return DevCall.objects.get(pk=call.pk)
