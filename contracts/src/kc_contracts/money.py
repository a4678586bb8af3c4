"""Money is integer VND. How a person reads it: ``1.234.567`` (Vietnamese thousands separator)."""

from __future__ import annotations


def vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")
