"""Who acts: every command carries the actor and the request's correlation id into its events.

The actor is the principal of the request's verified token (``kc_runtime.auth``): its display name,
role and scope, e.g. ``Nguyễn Văn A (so_ct@tinh-40)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request


@dataclass(frozen=True)
class Actor:
    name: str
    correlation_id: str | None = None

    @property
    def by(self) -> dict[str, Any]:
        """The keyword arguments every domain command takes to say who acts."""
        return {"actor": self.name, "correlation_id": self.correlation_id}


def actor_of(request: Request) -> Actor:
    """The actor of an HTTP request; the correlation id is the request's (see ``install_request_guards``)."""
    principal = getattr(request.state, "principal", None)
    name = principal.actor if principal is not None else "anonymous"
    return Actor(name, getattr(request.state, "correlation_id", None))
