"""Who acts: every command carries the actor and the request's correlation id into its events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request

# Until signed tokens (the instances issue), the caller names itself in this header.
ActorHeader = Annotated[str | None, Header(description="Người thực hiện / who acts")]


@dataclass(frozen=True)
class Actor:
    name: str
    correlation_id: str | None = None

    @property
    def by(self) -> dict[str, Any]:
        """The keyword arguments every domain command takes to say who acts."""
        return {"actor": self.name, "correlation_id": self.correlation_id}


def actor_of(request: Request, x_actor: str | None) -> Actor:
    """The actor of an HTTP request; the correlation id is the request's (see ``install_request_guards``)."""
    return Actor(x_actor or "anonymous", getattr(request.state, "correlation_id", None))
