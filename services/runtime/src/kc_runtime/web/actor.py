"""Who acts: every command carries the actor and the request's correlation id into its events.

The actor is the principal of the request's verified token (``kc_runtime.web.auth``): its display name,
role and scope, e.g. ``Nguyễn Văn A (so_ct@tinh-40)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from kc_runtime.web.auth import ROLES


@dataclass(frozen=True)
class Actor:
    name: str
    correlation_id: str | None = None
    # a role bound to one implementing unit (don_vi) acts on that unit's records only: ``unit_bound``
    # says so, ``unit`` names the unit (None: the token named none, so it reaches no record)
    unit_bound: bool = False
    unit: str | None = None
    # who signed in (the token's subject, e.g. a council member's roster id) and as which role
    subject: str | None = None
    role: str | None = None
    # a council member's role: sees and acts on the councils its subject sits on only
    council_bound: bool = False

    def reaches_unit(self, unit: str | None) -> bool:
        """Whether this actor may see and act on a record of ``unit``."""
        return not self.unit_bound or (self.unit is not None and self.unit == unit)

    @property
    def by(self) -> dict[str, Any]:
        """The keyword arguments every domain command takes to say who acts."""
        return {"actor": self.name, "correlation_id": self.correlation_id}


def actor_of(request: Request) -> Actor:
    """The actor of an HTTP request; the correlation id is the request's (see ``install_request_guards``)."""
    principal = getattr(request.state, "principal", None)
    correlation_id = getattr(request.state, "correlation_id", None)
    if principal is None:
        return Actor("anonymous", correlation_id)
    role = ROLES.get(principal.role)
    unit_bound = role is not None and role.unit_bound
    return Actor(
        principal.actor,
        correlation_id,
        unit_bound=unit_bound,
        unit=principal.unit if unit_bound else None,
        subject=principal.sub,
        role=principal.role,
        council_bound=role is not None and role.council_bound,
    )
