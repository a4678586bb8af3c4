"""Named errors of the appraisal rules. Messages: Vietnamese first, then English."""

from __future__ import annotations


class AppraisalError(ValueError):
    """A rule refused the command."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowedInStateError(AppraisalError):
    """The action is not allowed in the đề án's current state (the message lists what is)."""

    def __init__(self, action: str, status: str, allowed: list[str]) -> None:
        super().__init__(
            f"Không thể '{action}' khi đề án ở trạng thái '{status}'; được phép: {', '.join(allowed) or 'không có'}"
            f" / '{action}' is not allowed in state '{status}'; allowed: {', '.join(allowed) or 'none'}",
            field="status",
        )
        self.action, self.status, self.allowed = action, status, allowed


class DeadlineMissedError(AppraisalError):
    """Submitted after the plan calendar's deadline without an extension."""


class OverCeilingError(AppraisalError):
    """Support above the share or cap the rules allow."""


class BudgetError(AppraisalError):
    """Budget lines missing or inconsistent."""


class BeneficiaryError(AppraisalError):
    """Unknown or ineligible beneficiary, or double funding."""


class AuthorityError(AppraisalError):
    """The change must be decided by another authority."""


class StaleVersionError(AppraisalError):
    """The caller acted on an older version (optimistic concurrency)."""
