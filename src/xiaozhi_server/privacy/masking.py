"""Masking personal numbers and addresses in chat text: phones, resident IDs, cards, e-mail.

What counts, and what does not (look-alikes stay as they are):

- ``phone``: a mainland mobile number, 11 digits ``1[3-9]…`` (``138 1234 5678`` and
  ``138-1234-5678`` too), and an international number written ``+CC…`` (7 to 15 digits,
  spaces, hyphens and brackets between them). An 11-digit run inside a longer number, a
  decimal (``13812345678.50``) or a code with letters around it is not a phone number.
- ``id_card``: an 18-character resident ID whose birth date is a real date and whose
  check character (ISO 7064 MOD 11-2, last may be ``X``) is right.
- ``bank_card``: 16 to 19 digits (or groups of four) that pass the Luhn check and start
  like an issued card (3, 4, 5, 6 or 9, or MasterCard's 2221-2720). Order numbers that
  begin with a year (20…) are not cards.
- ``email``: ``name@domain.tld``.

Masking keeps the length and every separator, so a search hit's position in the stored
text is its position in the masked text, and a reader still sees what kind of value it
was: ``138****5678``, ``110***********123X``, ``6222***********0123``, ``z*******@example.com``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, Literal, get_args

MaskKind = Literal["phone", "id_card", "bank_card", "email"]
MASK_KINDS: tuple[MaskKind, ...] = get_args(MaskKind)
STAR = "*"

# Not glued to other digits or Latin letters (Chinese text around a number is fine), and
# not the fraction of a decimal number.
_BEFORE = r"(?<![0-9A-Za-z])(?<!\d\.)"
_AFTER = r"(?![0-9A-Za-z])(?!\.\d)"

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)
_ID_CARD = re.compile(_BEFORE + r"[1-9]\d{16}[0-9Xx]" + _AFTER)
_BANK_CARD = re.compile(
    _BEFORE
    + r"(?:\d{16,19}|\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{1,3})?)"
    + _AFTER
)
_INTERNATIONAL = re.compile(r"(?<![0-9A-Za-z+])\+[1-9](?:[ ()-]{0,2}\d){6,14}" + _AFTER)
_MAINLAND = re.compile(_BEFORE + r"1[3-9]\d(?P<sep>[ -]?)\d{4}(?P=sep)\d{4}" + _AFTER)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_card_valid(value: str) -> bool:
    """True for an 18-character resident ID with a real birth date and a right check."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= date.today().year:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value, _ID_WEIGHTS, strict=False))
    return _ID_CHECK[total % 11] == value[17].upper()


def luhn_valid(digits: str) -> bool:
    """True if ``digits`` pass the Luhn check that every issued card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def bank_card_valid(value: str) -> bool:
    """True for 16-19 digits (separators ignored) of a card issuer's range that pass Luhn."""
    digits = value.replace(" ", "").replace("-", "")
    if not 16 <= len(digits) <= 19 or not digits.isdigit():
        return False
    issued = digits[0] in "34569" or 2221 <= int(digits[:4]) <= 2720
    return issued and luhn_valid(digits)


def _keep_ends(value: str, first: int, last: int) -> str:
    """``value`` with every digit or letter between the first and last ``n`` starred."""
    positions = [i for i, char in enumerate(value) if char.isalnum()]
    hidden = set(positions[first : len(positions) - last])
    return "".join(STAR if i in hidden else char for i, char in enumerate(value))


def _mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return local[0] + STAR * (len(local) - 1) + "@" + domain


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]
    mask: Callable[[str], str]


def _always(_: str) -> bool:
    return True


# In this order: an e-mail address may hold digits, an ID or card holds phone-like runs.
_RULES: dict[MaskKind, tuple[_Rule, ...]] = {
    "email": (_Rule(_EMAIL, _always, _mask_email),),
    "id_card": (_Rule(_ID_CARD, id_card_valid, lambda v: _keep_ends(v, 3, 4)),),
    "bank_card": (_Rule(_BANK_CARD, bank_card_valid, lambda v: _keep_ends(v, 4, 4)),),
    "phone": (
        _Rule(_INTERNATIONAL, _always, lambda v: _keep_ends(v, 2, 4)),
        _Rule(_MAINLAND, _always, lambda v: _keep_ends(v, 3, 4)),
    ),
}


class Masker:
    """Masks the kinds it was given (``privacy.mask``) in text and in decoded JSON."""

    def __init__(self, kinds: Iterable[MaskKind]) -> None:
        wanted = set(kinds)
        self.kinds: tuple[MaskKind, ...] = tuple(k for k in MASK_KINDS if k in wanted)
        self._rules = [rule for kind in _RULES if kind in wanted for rule in _RULES[kind]]

    def __bool__(self) -> bool:
        return bool(self._rules)

    def text(self, value: str) -> str:
        """``value`` with every value of a masked kind starred (same length)."""
        for rule in self._rules:
            value = rule.pattern.sub(partial(_replace, rule), value)
        return value

    def optional(self, value: str | None) -> str | None:
        """``text`` for a value that may be missing."""
        return None if value is None else self.text(value)

    def json(self, value: Any) -> Any:
        """Decoded JSON with every string masked; a whole number that masking would change
        (a phone number sent as a number) becomes its masked text."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, int) and not isinstance(value, bool):
            shown = self.text(str(value))
            return value if shown == str(value) else shown
        return value


def _replace(rule: _Rule, match: re.Match[str]) -> str:
    found = match.group(0)
    return rule.mask(found) if rule.valid(found) else found
