"""What each console role may see and do: the services' roles (``kc_runtime/data/roles.toml``) plus the
console's own administrator (``quan_tri``: accounts only, no programme data, no service token).

The console only *hides* what a role may not do; the services' own role and scope checks decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from kc_kernel.vocabulary import label
from kc_runtime.web.auth import ROLES, Role

ADMIN = "quan_tri"
CONSOLE_ROLES: dict[str, str] = {name: label("role", name) for name in [*ROLES, ADMIN]}


def role_valid_for(role: str, instance: str) -> bool:
    if role == ADMIN:
        return True
    found = ROLES.get(role)
    return found is not None and found.national == (instance == "bo")


def roles_for(instance: str) -> dict[str, str]:
    return {name: label for name, label in CONSOLE_ROLES.items() if role_valid_for(name, instance)}


@dataclass(frozen=True)
class Officer:
    """The signed-in person: their account and what their role allows on each instance."""

    username: str
    name: str
    role: str
    instance: str  # the console's instance (the scope of the tokens it mints)
    unit: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def role_label(self) -> str:
        return CONSOLE_ROLES.get(self.role, self.role)

    @property
    def _role(self) -> Role | None:
        return ROLES.get(self.role)

    def may(self, permission: str, instance: str | None = None) -> bool:
        """Whether the services would let this role do ``permission`` on ``instance`` (default: its own)."""
        role = self._role
        if role is None or permission not in role.permissions:
            return False
        target = instance or self.instance
        if target == self.instance:
            return True
        crossing = self.instance == "bo" if target != "bo" else self.instance != "bo"
        return crossing and permission in role.reach

    @property
    def is_unit(self) -> bool:
        return self.role == "don_vi"
