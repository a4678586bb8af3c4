"""Money is integer VND. How a person reads it: ``1.234.567`` (Vietnamese thousands separator)."""

from __future__ import annotations


def vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def above_appraisal(approved_vnd: int, appraised_vnd: int, *, code: str | None = None) -> str | None:
    """The programme's rule, shared by the plan and the đề án: an approval gives no more support than
    the appraisal recommended. The refusal (Vietnamese first), or None when the amount is within it."""
    if approved_vnd <= appraised_vnd:
        return None
    of = f" của {code}" if code else ""
    return (
        f"Kinh phí phê duyệt {vnd(approved_vnd)} vượt kinh phí thẩm định{of} {vnd(appraised_vnd)}"
        " / approved above the appraised amount"
    )
