"""Amounts of money: ``$123.45`` -> "one hundred twenty-three dollars and forty-five cents".

The currency sign is written before the number but spoken after it, with the right
singular or plural and the minor unit for two decimals; espeak-ng (and LiteTTS) read
``$123.45`` as "dollar one hundred twenty-three point four five". This must run before
the plain number rules, which would otherwise read the number and leave a bare sign.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import NUMBER, EnglishStep, cardinal, integer_words, is_one, number_at, number_words, padded


class Currency(NamedTuple):
    one: str
    many: str
    minor_one: str | None = None
    minor_many: str | None = None


_SIGNS = {
    "$": Currency("dollar", "dollars", "cent", "cents"),
    "US$": Currency("U.S dollar", "U.S dollars", "cent", "cents"),
    "A$": Currency("Australian dollar", "Australian dollars", "cent", "cents"),
    "C$": Currency("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "NZ$": Currency("New Zealand dollar", "New Zealand dollars", "cent", "cents"),
    "HK$": Currency("Hong Kong dollar", "Hong Kong dollars", "cent", "cents"),
    "€": Currency("euro", "euros", "cent", "cents"),
    "£": Currency("pound", "pounds", "penny", "pence"),
    "¥": Currency("yen", "yen"),
    "₹": Currency("rupee", "rupees", "paisa", "paise"),
    "₩": Currency("won", "won"),
    "₽": Currency("ruble", "rubles", "kopek", "kopeks"),
    "₺": Currency("lira", "lira", "kurus", "kurus"),
    "₪": Currency("shekel", "shekels", "agora", "agorot"),
    "₱": Currency("peso", "pesos", "centavo", "centavos"),
    "₦": Currency("naira", "naira", "kobo", "kobo"),
    "₿": Currency("bitcoin", "bitcoins"),
}
_CODES = {
    "USD": Currency("U.S dollar", "U.S dollars", "cent", "cents"),
    "EUR": _SIGNS["€"],
    "GBP": _SIGNS["£"],
    "JPY": _SIGNS["¥"],
    "INR": _SIGNS["₹"],
    "CAD": _SIGNS["C$"],
    "AUD": _SIGNS["A$"],
    "CHF": Currency("Swiss franc", "Swiss francs", "centime", "centimes"),
    "CNY": Currency("yuan", "yuan", "fen", "fen"),
}
_SCALES = {
    "k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million", "MM": "million",
    "b": "billion", "B": "billion", "bn": "billion", "t": "trillion", "T": "trillion", "tn": "trillion",
}

_SIGN_CHARACTERS = "$€£¥₹₩₽₺₪₱₦₿"
_SIGN_ALTERNATIVES = "|".join(re.escape(sign) for sign in sorted(_SIGNS, key=len, reverse=True))
_CODE_ALTERNATIVES = "|".join(_CODES)


def _amount(name: str) -> str:
    """A number with an optional scale word or letter: ``5``, ``1.5 million``, ``3bn``."""
    return (
        rf"(?P<{name}>{NUMBER})"
        rf"(?:\s?(?P<{name}_word>thousand|million|billion|trillion)\b|(?P<{name}_abbr>bn|mn|tn|MM|[kKmMbBtT])(?!\w))?"
    )


# Each pattern starts with a literal choice or a character class (see ``number_at``).
_SIGNED = LazyPattern(
    rf"(?P<sign>{_SIGN_ALTERNATIVES}|{'|'.join(code + ' ?' for code in _CODES)})(?P<minus>-)?"
    rf"{_amount('amount')}(?:\s?-\s?(?:(?P=sign))?{_amount('upper')}(?![0-9.,]*\s?(?:%|percent\b)))?"
)
"""An amount, or a span of two ("$5-10"); not when the second number is a percentage ("$5 - 50% off")."""
_MINUS = LazyPattern(rf"-(?<![\w.]-)(?=(?:US|A|C|NZ|HK)?[{_SIGN_CHARACTERS}])")
_CODE_AFTER = LazyPattern(rf"(?P<amount>{number_at(signed=True)})\s?(?P<code>{_CODE_ALTERNATIVES})\b")
_CENTS = LazyPattern(rf"(?P<amount>{number_at()})\s?¢")
_CONTINENTAL = (
    r"[1-9](?<![\w.,][0-9])[0-9]{0,2}(?:(?:\.[0-9]{3})+,[0-9]{2}|(?:\.[0-9]{3}){2,}|\.000)(?![0-9]|,[0-9])"
)
"""Thousands grouped by dots: with decimal cents ("1.234,56"), in two groups or more
("1.000.000") or a round thousand ("350.000"). One group alone ("1.799 €" a litre) is a
decimal, as a price per unit usually is."""
_SIGN_AFTER = LazyPattern(
    rf"(?:(?P<lower>{_CONTINENTAL}|{number_at()})\s?[-\u2013]\s?)?"
    rf"(?P<amount>-?{_CONTINENTAL}|{number_at(signed=True)}|[0-9](?<![\w.,][0-9])[0-9]*,[0-9]{{2}}(?![0-9]))"
    r"\s?(?P<sign>[€£¥₹₩₽₺₪₱₦])(?!\w)"
)
"""The sign after the amount, as much of Europe writes it: "5 €", "3,50 €", "1.234,56 €" (a
comma before two final digits is the decimal mark there, and dots group thousands)."""
_CONTINENTAL_AMOUNT = LazyPattern(_CONTINENTAL)
_HAS_MONEY = LazyPattern("|".join(re.escape(sign) for sign in (*_SIGN_CHARACTERS, "¢", *_CODES)))


def money_words(amount: str, currency: Currency, scale: str | None = None) -> str:
    """A written amount (no sign) in words with its currency: dollars and cents, pounds and pence."""
    if scale:
        return f"{number_words(amount)} {scale} {currency.many}"
    whole, _, fraction = amount.partition(".")
    if fraction and (len(fraction) != 2 or currency.minor_many is None):
        return f"{number_words(amount)} {currency.many}"
    major = f"{integer_words(whole or '0')} {currency.one if is_one(whole) else currency.many}"
    minor = int(fraction) if fraction else 0
    if not minor:
        return major
    minor_words = f"{cardinal(minor)} {currency.minor_one if minor == 1 else currency.minor_many}"
    if not whole.replace(",", "").strip("0"):
        return minor_words
    return f"{major} and {minor_words}"


def _scale(match: re.Match[str], name: str) -> str | None:
    abbreviation = match.group(name + "_abbr")
    return match.group(name + "_word") or (_SCALES[abbreviation] if abbreviation else None)


@padded
def _signed(match: re.Match[str]) -> str:
    sign = match.group("sign").strip()
    currency = _SIGNS.get(sign) or _CODES[sign]
    minus = "minus " if match.group("minus") else ""
    amount, scale = match.group("amount"), _scale(match, "amount")
    upper = match.group("upper")
    if upper is None:
        return f"{minus}{money_words(amount, currency, scale)}"
    upper_scale = _scale(match, "upper")
    lower = number_words(amount) + (f" {scale}" if scale and scale != upper_scale else "")
    return f"{minus}{lower} to {money_words(upper, currency, upper_scale)}"


@padded
def _code_after(match: re.Match[str]) -> str:
    amount = match.group("amount")
    minus = "minus " if amount.startswith("-") else ""
    return f"{minus}{money_words(amount.lstrip('-'), _CODES[match.group('code')])}"


@padded
def _sign_after(match: re.Match[str]) -> str:
    amount = match.group("amount")
    minus = "minus " if amount.startswith("-") else ""
    amount = amount.lstrip("-")
    spoken = money_words(_dot_decimal(amount), _SIGNS[match.group("sign")])
    lower = match.group("lower")
    return f"{number_words(_dot_decimal(lower))} to {spoken}" if lower else f"{minus}{spoken}"


def _dot_decimal(amount: str) -> str:
    """An amount as the number rules read it: "1.234,56" -> "1234.56", "3,50" -> "3.50"."""
    if _CONTINENTAL_AMOUNT.fullmatch(amount):
        return amount.replace(".", "").replace(",", ".")
    if "." not in amount and amount.count(",") == 1 and len(amount.partition(",")[2]) == 2:
        return amount.replace(",", ".")
    return amount


@padded
def _cents(match: re.Match[str]) -> str:
    amount = match.group("amount")
    return f"{number_words(amount)} {'cent' if is_one(amount) else 'cents'}"


class Money(EnglishStep):
    """Currency signs and codes with amounts, scales (``$5M``), ranges (``$5-10``) and cents (``50¢``)."""

    name = "money"
    order = 300

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        if not _HAS_MONEY.search(text):
            return text
        if "-" in text:
            text = _MINUS.sub("minus ", text)
        text = _SIGNED.sub(_signed, text)
        if not text.isascii():
            text = _SIGN_AFTER.sub(_sign_after, text)
        if any(code in text for code in _CODES):
            text = _CODE_AFTER.sub(_code_after, text)
        return _CENTS.sub(_cents, text) if "¢" in text else text


@hookimpl
def litettsd_register_normalizers() -> list[Money]:
    return [Money()]
