"""Calls to the services' public HTTP APIs with a token minted for the signed-in officer.

The token carries the officer's account name, display name, role and scope (the console's instance),
signed with the instance's key: the services check it as any other caller's, and their role and scope
checks are the only authority. Errors come back as :class:`ApiError` with the problem+json's fields.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from kc_contracts.integrity import Signer
from kc_runtime.text import unit_key
from kc_runtime.web.auth import ROLES, issue_token

from kc_console.roles import Officer

TOKEN_TTL = timedelta(minutes=30)


@dataclass
class ApiError(Exception):
    """A refusal from a service: its status, its Vietnamese detail and the fields it names."""

    status: int
    title: str
    detail: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)
    service: str = ""

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    @property
    def message(self) -> str:
        """The Vietnamese part of the detail (problem details read ``tiếng Việt / English``)."""
        return vietnamese(self.detail) or vietnamese(self.title)

    def by_field(self) -> dict[str, str]:
        """Field name → Vietnamese message (the form shows each beside its field)."""
        found: dict[str, str] = {}
        for err in self.errors:
            name = str(err.get("field") or "")
            row = err.get("row")
            key = f"row {row}: {name}" if row else name
            found.setdefault(key, vietnamese(str(err.get("message") or "")))
        return found


class Unavailable(Exception):  # noqa: N818
    def __init__(self, service: str, instance: str) -> None:
        super().__init__(f"{instance}/{service}")
        self.service, self.instance = service, instance


def vietnamese(text: str | None) -> str:
    if not text:
        return ""
    vi, sep, _en = str(text).partition(" / ")
    return vi if sep else str(text)


class TokenMint:
    """One token per officer, minted when first needed and again shortly before it expires (the
    services keep a verified token until it expires, so re-using it saves them a signature check)."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self._tokens: dict[tuple[str, str, str | None], tuple[str, float]] = {}

    def token(self, officer: Officer) -> str:
        key = (officer.username, officer.role, officer.unit)
        known = self._tokens.get(key)
        if known and known[1] - time.time() > 120:
            return known[0]
        token = issue_token(
            self.signer,
            sub=officer.username,
            role=officer.role,
            scope=officer.instance,
            name=officer.name,
            ttl=TOKEN_TTL,
            # a unit's account acts for its own implementing unit only (the services check the claim)
            unit=unit_key(officer.unit) if officer.unit and ROLES[officer.role].unit_bound else None,
        )
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[key] = (token, time.time() + TOKEN_TTL.total_seconds())
        return token


class Backend:
    """The services of every instance the console can reach, by ``instance/service``."""

    def __init__(self, urls: dict[str, str], instance: str, mint: TokenMint, timeout: float = 15.0) -> None:
        self.urls = urls
        self.instance = instance
        self.mint = mint
        self.http = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    def has(self, service: str, instance: str | None = None) -> bool:
        return f"{instance or self.instance}/{service}" in self.urls

    def instances(self) -> list[str]:
        return sorted({key.split("/", 1)[0] for key in self.urls})

    def for_officer(self, officer: Officer | None) -> Calls:
        return Calls(self, officer)


class Calls:
    """What one request of one officer asks the services (no officer: public calls, no token)."""

    def __init__(self, backend: Backend, officer: Officer | None) -> None:
        self.backend = backend
        self.officer = officer

    def _headers(self) -> dict[str, str]:
        if self.officer is None or self.officer.is_admin:
            return {}
        return {"Authorization": f"Bearer {self.backend.mint.token(self.officer)}"}

    def _url(self, service: str, instance: str | None, path: str) -> str:
        where = instance or self.backend.instance
        base = self.backend.urls.get(f"{where}/{service}")
        if base is None:
            raise Unavailable(service, where)
        return base + path

    async def request(
        self,
        method: str,
        service: str,
        path: str,
        *,
        instance: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        data: Any = None,
        raw: bool = False,
        public: bool = False,
        wait_s: float | None = None,
    ) -> Any:
        url = self._url(service, instance, path)
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self.backend.http.request(
                method,
                url,
                params=clean or None,
                json=json,
                files=files,
                data=data,
                headers={} if public else self._headers(),
                timeout=wait_s if wait_s else self.backend.http.timeout,
            )
        except httpx.HTTPError as exc:
            raise Unavailable(service, instance or self.backend.instance) from exc
        if response.status_code >= 400:
            raise _error(response, service)
        if raw:
            return response
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, service: str, path: str, **kw: Any) -> Any:
        return await self.request("GET", service, path, **kw)

    async def post(self, service: str, path: str, **kw: Any) -> Any:
        return await self.request("POST", service, path, **kw)

    async def put(self, service: str, path: str, **kw: Any) -> Any:
        return await self.request("PUT", service, path, **kw)

    async def patch(self, service: str, path: str, **kw: Any) -> Any:
        return await self.request("PATCH", service, path, **kw)


def _error(response: httpx.Response, service: str) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    listed = body.get("errors")
    errors: list[Any] = listed if isinstance(listed, list) else []
    return ApiError(
        status=response.status_code,
        title=str(body.get("title") or response.reason_phrase),
        detail=str(body.get("detail") or ""),
        errors=[e for e in errors if isinstance(e, dict)],
        service=service,
    )
