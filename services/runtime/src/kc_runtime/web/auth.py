"""Who may call what: signed tokens with a role and a scope, checked on every route.

A token is a JWT signed (EdDSA / Ed25519) with the issuing instance's key — the key it signs its
events with — so every instance verifies tokens with the trust file it already has. Claims:
``iss`` (issuing instance), ``sub`` (the person or system), ``name``, ``role`` (see
``data/roles.toml``), ``scope`` (``bo`` or ``tinh-<code>``), ``iat``, ``exp``, ``jti``; and, for a
role bound to a unit (``don_vi``), the optional ``unit``: the key of the implementing unit the
person works for (``trung-tam-khuyen-cong-nghe-an``: the unit's name folded, see
:func:`kc_runtime.text.unit_key`). A service lets such a token see and act on its own unit's
records only; without ``unit`` it sees none.

A province may issue tokens only for its own scope; the ministry for any. Each service maps every
route to one permission (``ROUTE_PERMISSIONS`` beside its API); a route without one is refused to
everyone, so a new route cannot be open by omission. Health probes and the API docs are public.

    python -m kc_ops.tokens issue --instance tinh-40 --role so_ct --sub nguyen.van.a --name "Nguyễn Văn A"
"""

from __future__ import annotations

import re
import time
import tomllib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import jwt
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kc_contracts.integrity import IntegrityError, Signer
from kc_contracts.subjects import check_instance
from kc_kernel.vocabulary import label
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from kc_runtime.keys import TrustFile

log = structlog.get_logger("kc.auth")

UNIT_KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
DEFAULT_TTL = timedelta(hours=8)


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    national: bool
    permissions: frozenset[str]
    reach: frozenset[str]  # what it may also do on other instances (bo for provinces, provinces for bo)
    unit_bound: bool = False  # acts for one implementing unit only (the token's ``unit`` claim)
    max_token_hours: float = 12.0  # the longest a token of the role may live (``exp - iat``)
    council_bound: bool = False  # a council member: sees the councils the token's subject sits on


def load_roles() -> dict[str, Role]:
    doc = tomllib.loads(resources.files("kc_runtime").joinpath("data/roles.toml").read_text(encoding="utf-8"))
    return {
        name: Role(
            name=name,
            label=label("role", name),  # from the one vocabulary
            national=r["scope"] == "national",
            permissions=frozenset(r["permissions"]),
            reach=frozenset(r.get("reach_provinces" if r["scope"] == "national" else "reach_bo", [])),
            unit_bound=bool(r.get("unit_bound", False)),
            max_token_hours=float(r["max_token_hours"]),
            council_bound=bool(r.get("council_bound", False)),
        )
        for name, r in doc["role"].items()
    }


ROLES = load_roles()


class AuthError(Exception):
    def __init__(self, status: int, vi: str, en: str) -> None:
        super().__init__(en)
        self.status, self.vi, self.en = status, vi, en


@dataclass(frozen=True)
class Principal:
    sub: str
    name: str
    role: str
    scope: str  # "bo" or "tinh-<code>"
    issuer: str
    token_id: str
    expires_at: float = 0.0  # the token's ``exp`` (seconds since the epoch)
    unit: str | None = None  # the implementing unit a unit-bound role acts for (``unit`` claim)

    @property
    def actor(self) -> str:
        """How the principal appears in event histories: ``Nguyễn Văn A (so_ct@tinh-40)``."""
        return f"{self.name} ({self.role}@{self.scope})"

    def may(self, permission: str, instance: str, roles: Mapping[str, Role] = ROLES) -> bool:
        role = roles.get(self.role)
        if role is None or permission not in role.permissions:
            return False
        if instance == self.scope:
            return True
        # the other side of the federation: the ministry on a province's instance, a province on bo
        crossing = self.scope == "bo" if instance != "bo" else self.scope != "bo"
        return crossing and permission in role.reach


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g}"


def issue_token(
    signer: Signer,
    *,
    sub: str,
    role: str,
    scope: str | None = None,
    name: str | None = None,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
    roles: Mapping[str, Role] = ROLES,
    unit: str | None = None,
) -> str:
    """A token for ``sub`` acting as ``role`` in ``scope`` (default: the issuer's own instance);
    ``unit``: the implementing unit's key, for a role bound to a unit only."""
    scope = check_instance(scope or signer.instance)
    if role not in roles:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(sorted(roles))}")
    if roles[role].national != (scope == "bo"):
        raise ValueError(f"role {role} is {'national (bo)' if roles[role].national else 'provincial'}, not {scope}")
    if signer.instance not in ("bo", scope):
        raise ValueError(f"{signer.instance} may issue tokens only for its own scope, not {scope}")
    if unit is not None and not roles[role].unit_bound:
        raise ValueError(f"role {role} is not bound to a unit: no unit claim")
    if unit is not None and not UNIT_KEY.fullmatch(unit):
        raise ValueError(f"unit {unit!r} is not a unit key (lower case, digits, hyphens: trung-tam-khuyen-cong)")
    longest = timedelta(hours=roles[role].max_token_hours)
    if ttl > longest:
        raise ValueError(
            f"a token of role {role} lives at most {_hours(longest)} h (max_token_hours in roles.toml), "
            f"not {_hours(ttl)} h"
        )
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": signer.instance,
        "sub": sub,
        "name": name or sub,
        "role": role,
        "scope": scope,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if unit is not None:
        claims["unit"] = unit
    return jwt.encode(claims, signer.private_key, algorithm="EdDSA", headers={"kid": signer.key_id})


def verify_token(token: str, trust: TrustFile, roles: Mapping[str, Role] = ROLES) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
        issuer, kid = str(unverified.get("iss", "")), str(header.get("kid", ""))
        trust.reload()
        key = trust.store.find(issuer, kid)
        if key is None or key.revoked:
            raise AuthError(
                401, "Khóa ký mã truy cập không được tin cậy", f"token key {kid} of {issuer!r} is not trusted"
            )
        claims = jwt.decode(
            token, key.public_key, algorithms=["EdDSA"], options={"require": ["exp", "iat", "sub", "role", "scope"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError(401, "Mã truy cập đã hết hạn", "the token has expired") from exc
    except (jwt.PyJWTError, IntegrityError) as exc:
        raise AuthError(401, "Mã truy cập không hợp lệ", f"invalid token: {exc}") from exc
    scope, role = str(claims["scope"]), str(claims["role"])
    if issuer not in ("bo", scope):
        raise AuthError(401, "Tỉnh chỉ cấp mã cho tỉnh mình", f"{issuer} cannot issue tokens for {scope}")
    if role not in roles or roles[role].national != (scope == "bo"):
        raise AuthError(401, "Vai trò không hợp lệ cho phạm vi này", f"role {role!r} is not valid for scope {scope}")
    lifetime = float(claims["exp"]) - float(claims["iat"])
    longest = roles[role].max_token_hours * 3600
    if lifetime > longest + 60:  # a minute for clocks and rounding
        raise AuthError(
            401,
            f"Mã truy cập sống quá lâu: vai trò {roles[role].label} tối đa {_hours(timedelta(seconds=longest))} giờ",
            f"the token lives {lifetime / 3600:g} h; role {role} at most {longest / 3600:g} h",
        )
    unit = claims.get("unit")
    if unit is not None and (not roles[role].unit_bound or not isinstance(unit, str) or not UNIT_KEY.fullmatch(unit)):
        raise AuthError(401, "Đơn vị trong mã truy cập không hợp lệ", f"invalid unit claim {unit!r} for role {role}")
    return Principal(
        sub=str(claims["sub"]),
        name=str(claims.get("name") or claims["sub"]),
        role=role,
        scope=scope,
        issuer=issuer,
        token_id=str(claims.get("jti", "")),
        expires_at=float(claims["exp"]),
        unit=unit,
    )


class VerifiedTokens:
    """Tokens already verified, kept until they expire or the trust file changes (a key revoked or
    rotated there applies at once). A client sends the same token with every request: checking its
    Ed25519 signature each time cost about a tenth of a service's request handling."""

    def __init__(self, trust: TrustFile, size: int = 4096) -> None:
        self.trust = trust
        self.size = size
        self._seen: dict[str, Principal] = {}

    def principal(self, token: str) -> Principal:
        if self.trust.reload():
            self._seen.clear()
        known = self._seen.get(token)
        if known is not None and known.expires_at > time.time():
            return known
        principal = verify_token(token, self.trust)
        if len(self._seen) >= self.size:
            self._seen.clear()  # bounded: a full cache starts again (the clients re-verify once)
        self._seen[token] = principal
        return principal


def _problem(status: int, vi: str, en: str, instance: str, **codes: str) -> JSONResponse:
    title = "Chưa xác thực / Unauthenticated" if status == 401 else "Không có quyền / Forbidden"
    headers = {"WWW-Authenticate": 'Bearer realm="khuyencong"'} if status == 401 else None
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": vi,
        "detail_en": en,
        "instance": instance,
    }
    return JSONResponse(
        body | codes,
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


# routes from the runtime: every publishing service's chain head (kc_runtime.web.probes.install_outbox_head)
# and every service's metrics (kc_runtime.web.metrics.install_metrics: the auditor's long-lived token)
RUNTIME_ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {
    ("GET", "/outbox/head"): "verify",
    ("GET", "/metrics"): "verify",
}


Refusal = Callable[[Request], JSONResponse | None]


def token_guard(trust: TrustFile, instance: str, permission: str) -> Refusal:
    """One route's bearer check, for an app without a route table (the console signs people in by
    session; its ``/metrics`` is for Prometheus, with the auditor's token like every service's)."""
    verified = VerifiedTokens(trust)

    def refusal(request: Request) -> JSONResponse | None:
        path = request.url.path
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _problem(401, "Cần mã truy cập (Authorization: Bearer …)", "a bearer token is required", path)
        try:
            principal = verified.principal(header[7:].strip())
        except AuthError as exc:
            return _problem(exc.status, exc.vi, exc.en, path)
        if not principal.may(permission, instance):
            return _problem(
                403,
                f"Vai trò «{label('role', principal.role)}» không được phép: «{label('permission', permission)}» "
                f"trên {label('instance', instance)}",
                f"role {principal.role} of {principal.scope} may not {permission} on {instance}",
                path,
                role=principal.role,
                scope=principal.scope,
                permission=permission,
            )
        return None

    return refusal


def install_auth(app: FastAPI, *, instance: str, trust: TrustFile, permissions: Mapping[tuple[str, str], str]) -> None:
    """Check every request's token against the permission of the route it reaches."""
    permissions = {**RUNTIME_ROUTE_PERMISSIONS, **permissions}

    routes = {(m, p) for p, ops in app.openapi().get("paths", {}).items() for m in ops if m != "parameters"}
    app.openapi_schema = None  # routes added later (health) still appear
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base_openapi()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT (EdDSA)",
                    "description": "python -m kc_ops.tokens issue --instance … --role … --sub …",
                }
            }
            schema["security"] = [{"bearer": []}]
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    unmapped = sorted(f"{m.upper()} {p}" for m, p in routes if (m.upper(), p) not in permissions)
    unmapped = [r for r in unmapped if r.split(" ", 1)[1] not in PUBLIC_PATHS]
    if unmapped:
        raise RuntimeError(f"routes without a permission (refused to everyone is not a policy): {unmapped}")
    # literal paths before templated ones, as the router itself would prefer /de-an/export to /de-an/{id}
    compiled = sorted(
        ((compile_path(p)[0], m, perm, p.count("{")) for (m, p), perm in permissions.items()), key=lambda c: c[3]
    )

    def route_permission(method: str, path: str) -> tuple[str | None, bool]:
        """(permission, found): the permission of the route this request reaches, if any."""
        for regex, m, perm, _ in compiled:
            if m == method and regex.match(path):
                return perm, True
        return None, False

    verified = VerifiedTokens(trust)

    def refusal(request: Request) -> JSONResponse | None:
        """The 401/403 answer to this request, or None when it may go on (its principal then set)."""
        path = request.url.path
        if path in PUBLIC_PATHS or request.method == "OPTIONS":
            return None
        permission, found = route_permission("GET" if request.method == "HEAD" else request.method, path)
        if not found:
            return None  # 404 / 405 as usual
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _problem(401, "Cần mã truy cập (Authorization: Bearer …)", "a bearer token is required", path)
        try:
            principal = verified.principal(header[7:].strip())
        except AuthError as exc:
            return _problem(exc.status, exc.vi, exc.en, path)
        if permission is None or not principal.may(permission, instance):
            log.info("refused", sub=principal.sub, role=principal.role, scope=principal.scope, path=path)
            needed = permission or "(none configured)"
            return _problem(
                403,
                f"Vai trò «{label('role', principal.role)}» ({label('instance', principal.scope)}) không được phép: "
                f"«{label('permission', needed) if permission else 'chưa cấu hình'}» "
                f"trên {label('instance', instance)}",
                f"role {principal.role} of {principal.scope} may not {needed} on {instance}",
                path,
                role=principal.role,
                scope=principal.scope,
                permission=needed,
            )
        request.state.principal = principal
        return None

    class Authorize:
        """Plain ASGI (no response streaming through a task group, as ``@app.middleware`` does)."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                refused = refusal(Request(scope))
                if refused is not None:
                    await refused(scope, receive, send)
                    return
            await self.app(scope, receive, send)

    app.add_middleware(Authorize)
