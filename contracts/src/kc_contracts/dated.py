"""Re-exported from :mod:`kc_kernel.dated` (the shared kernel), for integrators who import it from the contracts."""

from kc_kernel.dated import (
    DatedRules,
    NoRuleInForceError,
    RuleVersion,
    rules_from_records,
)

__all__ = [
    "DatedRules",
    "NoRuleInForceError",
    "RuleVersion",
    "rules_from_records",
]
