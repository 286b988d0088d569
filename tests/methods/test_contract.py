"""Every installed method keeps the method contract."""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path

import pyotp

from tests.methods.contract import MethodContract
from vahva.methods import registry
from vahva.methods.models import PendingEnrolment, RegisteredMethod


def test_every_installed_method_has_a_contract_test() -> None:
    # Import every contract module, so that this test also holds when run on its own.
    for module in Path(__file__).parent.glob("test_*.py"):
        importlib.import_module(f"tests.methods.{module.stem}")
    covered = {cls.kind for cls in MethodContract.__subclasses__()}
    assert {m.kind for m in registry.all_methods()} <= covered


class TestTotpContract(MethodContract):
    kind = "totp"

    def right_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        return str(pyotp.TOTP(secret_holder.secret).at(now))

    def wrong_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        right = self.right_answer(secret_holder, now)
        return "000000" if right != "000000" else "111111"


class TestHardwareTokenContract(MethodContract):
    kind = "hardware_token"

    def right_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        from tests.methods.token_helpers import hotp_code, stock_token
        from vahva.methods.hardware_token.models import HardwareToken

        if isinstance(secret_holder, PendingEnrolment):
            # The person typed the serial number printed on a token in stock.
            token = HardwareToken.objects.filter(serial="TK0001").first() or stock_token()
            secret_holder.data = {"serial": token.serial}
            secret_holder.save(update_fields=["data"])
        else:
            token = HardwareToken.objects.get(registered=secret_holder)
        return hotp_code(token, token.counter)

    def wrong_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        right = self.right_answer(secret_holder, now)
        return "000000" if right != "000000" else "111111"
