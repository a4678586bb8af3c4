"""Re-exported from :mod:`kc_kernel.vocabulary` (the shared kernel), for integrators importing it here."""

from kc_kernel.vocabulary import (
    MISSING,
    PLACE_KINDS,
    VIETNAM_TIME,
    UnknownKindError,
    describe,
    format_date,
    format_datetime,
    format_money,
    has_label,
    kinds,
    label,
    labels,
    money_in_words,
    number_in_words,
    unlabelled,
    use_admin_units,
)

__all__ = [
    "MISSING",
    "PLACE_KINDS",
    "VIETNAM_TIME",
    "UnknownKindError",
    "describe",
    "format_date",
    "format_datetime",
    "format_money",
    "has_label",
    "kinds",
    "label",
    "labels",
    "money_in_words",
    "number_in_words",
    "unlabelled",
    "use_admin_units",
]
