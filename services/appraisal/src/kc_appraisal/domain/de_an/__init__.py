"""Đề án khuyến công (DOMAIN §7): the aggregate and its parts.

- ``lifecycle``: the states, and which action is allowed where and leads where (one table);
- ``details``: the đề án as drafted (code, level and type, contents, beneficiaries);
- ``budget``: budget lines as values (integer VND, support + counterpart + other = total);
- ``council``: who appraises (a council with declarations, or staff);
- ``aggregate``: ``DeAn``, its decision events and commands.

Stored events name this package as their module (``kc_appraisal.domain.de_an:DeAn.Submitted``):
``DeAn`` stays importable from here so they keep loading.
"""

from kc_appraisal.domain.beneficiary import BeneficiaryFacts, BeneficiaryLookup
from kc_appraisal.domain.de_an.aggregate import DeAn
from kc_appraisal.domain.de_an.budget import BudgetLine, check_budget_lines, totals
from kc_appraisal.domain.de_an.council import AppraisalMode, Member
from kc_appraisal.domain.de_an.files import DocumentKind
from kc_appraisal.domain.de_an.lifecycle import LIFECYCLE, TERMINAL, Conclusion, DeAnType, Level, Status
from kc_appraisal.domain.de_an.values import By

__all__ = [
    "LIFECYCLE",
    "TERMINAL",
    "AppraisalMode",
    "BeneficiaryFacts",
    "BeneficiaryLookup",
    "BudgetLine",
    "By",
    "Conclusion",
    "DeAn",
    "DeAnType",
    "DocumentKind",
    "Level",
    "Member",
    "Status",
    "check_budget_lines",
    "totals",
]
