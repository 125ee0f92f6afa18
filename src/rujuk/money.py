"""Exact money in a currency's minor unit; rewards round down, never up."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation

ZERO_DECIMAL_CURRENCIES = frozenset({"IDR", "JPY", "KRW", "VND"})

# Far above any real purchase; keeps numeric columns and arithmetic bounded.
MAX_AMOUNT = Decimal("1e15")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency: 1 for IDR, JPY, KRW and VND, else 0.01."""
    return Decimal(1) if currency in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")


def round_down(amount: Decimal, currency: str) -> Decimal:
    """Round an amount down (toward zero) to the currency's minor unit."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_DOWN)


def is_valid_amount(amount: Decimal, currency: str) -> bool:
    """Whether amount is positive, finite, bounded and has no more decimals than the currency."""
    try:
        return (
            amount.is_finite()
            and Decimal(0) < amount <= MAX_AMOUNT
            and amount == amount.quantize(minor_unit(currency))
        )
    except InvalidOperation:
        return False
