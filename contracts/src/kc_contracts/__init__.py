"""Public event contracts of khuyencong.

Integrators may install this package alone: it holds the CloudEvents envelope, the contract event
models (one frozen pydantic model per (type, version)), the subject naming rule and the upcasters.
"""

# Importing the modules registers their contracts.
from kc_contracts import appraisal_events, planning_events, registry_events  # noqa: F401  (registration)
from kc_contracts.base import ContractEvent, contract, registry
from kc_contracts.envelope import Envelope
from kc_contracts.subjects import Instance, subject_for

__all__ = ["ContractEvent", "Envelope", "Instance", "contract", "registry", "subject_for"]
