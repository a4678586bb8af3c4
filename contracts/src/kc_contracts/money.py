"""Re-exported from :mod:`kc_kernel.money` (the shared kernel), for integrators who import it from the contracts."""

from kc_kernel.money import (
    above_appraisal,
    vnd,
)

__all__ = [
    "above_appraisal",
    "vnd",
]
