"""Phone numbers for the phone methods: parsed with ``phonenumbers`` and stored in E.164,
refused outside the allowed countries or when they would cost us money (premium rate, shared
cost), shown whole while being set up and masked (``+358 44 *** **21``) afterwards."""

from __future__ import annotations

import re

import phonenumbers
from babel import Locale, UnknownLocaleError
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from vahva.conf import settings
from vahva.errors import MalformedInput

#: What a typed number may contain besides digits: spaces and the usual punctuation.
_NUMBER_CHARS = re.compile(r"[0-9 +().\-/]*")
#: Number types that reach a person's phone; premium rate, shared cost, toll-free, pagers...
#: are refused (toll fraud: someone else's premium number would earn from our texts).
_ALLOWED_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
}


class NumberRefused(MalformedInput):
    """A number that is well formed but may not be used here."""


def country_choices() -> list[tuple[str, str]]:
    """The allowed countries for the dropdown: ("FI", "Finland (+358)"), default first."""
    default = str(settings.PHONE_DEFAULT_COUNTRY)
    regions = [default] + [r for r in settings.PHONE_COUNTRIES if r != default]
    language = translation.get_language() or "en"
    return [(r, f"{_country_name(r, language)} (+{country_code(r)})") for r in regions]


def country_code(region: str) -> int:
    return int(phonenumbers.country_code_for_region(region))


def _country_name(region: str, language: str) -> str:
    """The country's name in ``language`` (CLDR, through Babel), or its code."""
    try:
        names = Locale.parse(language.replace("-", "_")).territories
    except (ValueError, UnknownLocaleError):
        names = Locale("en").territories
    return str(names.get(region) or region)


def parse(raw: str, country: str | None = None) -> str:
    """The E.164 form of a typed number (``044 1234567``, ``+358 44 1234567``, ``00358…``).

    Raises MalformedInput with a message a person understands.
    """
    text = (raw or "").strip()
    if not text:
        raise MalformedInput(_("Enter your phone number."))
    if len(text) > 32 or not _NUMBER_CHARS.fullmatch(text) or not text.isascii():
        raise MalformedInput(
            _("A phone number has only digits (and spaces), for example 044 1234567.")
        )
    region = country or str(settings.PHONE_DEFAULT_COUNTRY)
    if region not in settings.PHONE_COUNTRIES:
        raise MalformedInput(_("Choose a country from the list."))
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise MalformedInput(
            _("That does not look like a phone number. Check it and try again.")
        ) from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in (
        phonenumbers.ValidationResult.TOO_SHORT,
        phonenumbers.ValidationResult.INVALID_LENGTH,
    ):
        raise MalformedInput(_("That phone number is too short. Check it and try again."))
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        raise MalformedInput(_("That phone number is too long. Check it and try again."))
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        raise MalformedInput(_("That country code is not known. Check the number."))
    if not phonenumbers.is_valid_number(number):
        raise MalformedInput(_("That is not a valid phone number. Check it and try again."))
    if phonenumbers.region_code_for_number(number) not in settings.PHONE_COUNTRIES:
        raise NumberRefused(
            _(
                "Phone numbers in that country cannot be used here. Use a number in one of "
                "the countries in the list."
            )
        )
    if phonenumbers.number_type(number) not in _ALLOWED_TYPES:
        raise NumberRefused(
            _(
                "That number cannot receive our texts or calls (it is a premium-rate or "
                "service number). Use your own mobile or landline number."
            )
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(e164: str) -> str:
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or "ZZ"


def display(e164: str) -> str:
    """The whole number, readable: ``+358 44 1234567``."""
    return phonenumbers.format_number(
        phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def mask(e164: str) -> str:
    """The number with all but the country code, the first group and the last two digits
    hidden: ``+358 44 *** **21`` (enough to recognise one's own phone, little to a stranger)."""
    formatted = display(e164)
    parts = formatted.split(" ")
    code, first = parts[0], parts[1] if len(parts) > 1 else ""
    national = str(phonenumbers.parse(e164, None).national_number)
    rest = national[len(first) :] if national.startswith(first) else national
    hidden = "*" * max(0, len(rest) - 2) + rest[-2:]
    return " ".join(p for p in (code, first, hidden[:3], hidden[3:]) if p)
