"""Phone numbers: parse any common spelling into E.164, and mask them for logs and lists."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

DEFAULT_REGION = "CN"


class PhoneError(ValueError):
    """Not a valid mobile number; ``code`` is 'invalid' or 'not_mobile'."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def normalize_phone(raw: str, region: str = DEFAULT_REGION, *, mobile_only: bool = True) -> str:
    """'138 0013 8000', '+86 138-0013-8000', '008613800138000' → '+8613800138000'."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneError("invalid") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("invalid")
    if mobile_only and phonenumbers.number_type(number) not in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise PhoneError("not_mobile")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Enough to recognise a number, not enough to use it: '+86******8000'."""
    if len(e164) <= 6:
        return "*" * len(e164)
    return e164[:3] + "*" * (len(e164) - 7) + e164[-4:]
