"""Named errors of the appraisal rules. Messages: Vietnamese first, then English."""

from __future__ import annotations

from typing import Any

from kc_kernel.vocabulary import label


class AppraisalError(ValueError):
    """A rule refused the command."""

    def __init__(self, message: str, *, field: str | None = None, **codes: Any) -> None:
        super().__init__(message)
        self.field = field
        # machine codes behind the message (a status, an action), sent beside it in problem+json
        self.codes = codes


class NotAllowedInStateError(AppraisalError):
    """The action is not allowed in the đề án's current state (the message lists what is)."""

    def __init__(self, action: str, status: str, allowed: list[str]) -> None:
        allowed_vi = ", ".join(f"«{label('de_an_action', a)}»" for a in allowed) or "không có"
        super().__init__(
            f"Không thể «{label('de_an_action', action)}» khi đề án ở trạng thái «{label('de_an_status', status)}»; "
            f"được phép: {allowed_vi}"
            f" / '{action}' is not allowed in state '{status}'; allowed: {', '.join(allowed) or 'none'}",
            field="status",
            code="not_allowed_in_state",
            action=action,
            de_an_status=status,
            allowed_actions=allowed,
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


class NotTheAuthorityError(AuthorityError):
    """The caller does not hold the authority the decision needs (another role, or another instance:
    the ministry's decisions on a national đề án are recorded on the ministry's instance)."""


class StaleVersionError(AppraisalError):
    """The caller acted on an older version (optimistic concurrency)."""
