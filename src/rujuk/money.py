"""Exact money in a currency's minor unit; rewards round down, never up."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

ZERO_DECIMAL_CURRENCIES = frozenset({"IDR", "JPY", "KRW", "VND"})

# In the currency's major unit: far above any real purchase, and an amount that a typo or a
# unit mix-up (cents sent as rupiah) inflates by a few orders of magnitude is refused instead
# of paying rewards on it.
MAX_AMOUNT = Decimal(10) ** 12


def decimals(currency: str) -> int:
    """How many decimals the currency's amounts take: 0 for IDR, JPY, KRW and VND, else 2."""
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 2


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency: 1 for IDR, JPY, KRW and VND, else 0.01."""
    return Decimal(1).scaleb(-decimals(currency))


def round_down(amount: Decimal, currency: str) -> Decimal:
    """Round an amount down (toward zero) to the currency's minor unit."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_DOWN)


def written_decimals(amount: Decimal) -> int:
    """How many decimals the amount was written with, trailing zeros included: "250.000"
    has 3 (a Decimal keeps the exponent it was parsed with)."""
    exponent = amount.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def amount_problem(amount: Decimal, currency: str, *, zero_allowed: bool = False) -> str | None:
    """What is wrong with an amount of money as the caller wrote it, as the end of a sentence
    that starts with the field's name; None when nothing is.

    Decimals are counted as written: for IDR "250.000" is how many Indonesians write two
    hundred fifty thousand, so it is refused rather than read as 250.
    """
    if not amount.is_finite():
        return "must be a finite number"
    if amount < 0:
        return f"must be {'0 or more' if zero_allowed else 'above 0'}, and it is negative"
    if amount == 0 and not zero_allowed:
        return "must be above 0, and it is 0"
    if amount > MAX_AMOUNT:
        return f"must be at most 10^12 {currency} ({MAX_AMOUNT:f})"
    written, allowed = written_decimals(amount), decimals(currency)
    if written > allowed:
        places = f"{written} decimal{'s' if written > 1 else ''}"
        if allowed == 0:
            return (
                f"is written with {places}, but {currency} amounts take none: write whole"
                ' numbers ("250000", not "250.000" or "250000.00")'
            )
        return (
            f"is written with {places}, but {currency} amounts take at most {allowed}"
            " (trailing zeros count)"
        )
    return None
