"""The reports the Sở Công Thương sends up, in the forms of the circular in force (issue 15 item 9).

Two reports, each as .xlsx and PDF from one model (:class:`Report`):

- **Báo cáo tình hình thực hiện kế hoạch khuyến công** for a period (6 tháng đầu năm, cả năm): one row
  per đề án of the year's plans, by programme and activity content — who implements it, for which
  establishments, where, and the state support approved, contracted, advanced, accepted and settled by
  the period's last day, and where it stands;
- **Bảng tổng hợp quyết toán kinh phí khuyến công**: the same đề án with their contract, what was
  advanced, accepted and settled (each settled cost item below its đề án) and the difference between
  the contract and the settlement.

Names, never codes: establishments by name, activity contents, statuses, communes and provinces by their
Vietnamese labels, dates dd/mm/yyyy, money as whole đồng with the Vietnamese thousands separator (the
spreadsheet keeps numbers, formatted, so officers can add them up). Which form applies — its number, the
circular it follows, the recipient's name — is dated data (``rules/reports.toml``), decided by the
period's last day; what the reference text does not give is marked there "to confirm".
"""

from kc_planning.reports.model import (
    FORMATS,
    KINDS,
    Period,
    Report,
    agency,
    as_of,
    content_disposition,
    forms,
    money_text,
    period,
    periods,
    progress_report,
    settlement_table,
)
from kc_planning.reports.pdf import to_pdf
from kc_planning.reports.xlsx import to_xlsx

__all__ = [
    "FORMATS",
    "KINDS",
    "Period",
    "Report",
    "agency",
    "as_of",
    "content_disposition",
    "forms",
    "money_text",
    "period",
    "periods",
    "progress_report",
    "settlement_table",
    "to_pdf",
    "to_xlsx",
]
