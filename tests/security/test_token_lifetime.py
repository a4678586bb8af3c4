"""Issue 14 item 9: tokens could live ten years.

The attack: ``python -m kc_ops.tokens issue --role so_ct --hours 87600`` — a Sở officer's token
valid for ten years; lost once (a laptop, a log line), it opens the province's records until 2035,
whatever happens to the person. And a token signed with such a lifetime by any tool was accepted.

Now each role has a maximum lifetime, as data in ``roles.toml`` (``max_token_hours``: officers
12 h, auditors 30 days, integrators 90 days): issuing a longer one is refused (the CLI exits 1 with
a one-line error), and a token presented with a longer lifetime (``exp - iat``) is a 401 however
it was signed.

Real parts: the issuing CLI in a subprocess; the registry under uvicorn on this test's nats-server.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from kc_registry.main import create_app
from kc_runtime.keys import ensure_instance_key
from kc_runtime.web.auth import ROLES, issue_token
from kc_testing.fixtures import SettingsFactory, served


@pytest.fixture
def store() -> str:
    return "sqlite"


def test_every_role_has_a_maximum_token_lifetime() -> None:
    hours = {name: role.max_token_hours for name, role in ROLES.items()}
    assert all(0 < h <= 90 * 24 for h in hours.values()), hours
    assert hours["so_ct"] <= 12 and hours["cuc"] <= 12 and hours["ubnd_tinh"] <= 12
    assert hours["tich_hop"] == 90 * 24
    assert hours["kiem_toan"] <= 90 * 24


def test_a_ten_year_token_is_neither_issued_nor_accepted(make_settings: SettingsFactory) -> None:
    settings = make_settings("registry")
    signer = ensure_instance_key(settings.key_folder, "tinh-40", settings.trust_path)

    # issuing: the library and the command line refuse
    with pytest.raises(ValueError, match="so_ct"):
        issue_token(signer, sub="nguyen.van.a", role="so_ct", ttl=timedelta(days=3650))
    issued = subprocess.run(
        [
            sys.executable,
            "-m",
            "kc_ops.tokens",
            "issue",
            "--instance",
            "tinh-40",
            "--keys-dir",
            str(settings.key_folder),
            "--role",
            "so_ct",
            "--sub",
            "nguyen.van.a",
            "--hours",
            "87600",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert issued.returncode == 1, issued
    assert issued.stdout == ""
    assert len(issued.stderr.strip().splitlines()) == 1 and "12" in issued.stderr, issued.stderr

    # presenting: a token signed with the instance's own key but living ten years is refused
    now = datetime.now(UTC)
    claims = {
        "iss": "tinh-40",
        "sub": "nguyen.van.a",
        "name": "Nguyễn Văn A",
        "role": "so_ct",
        "scope": "tinh-40",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(days=3650)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    forged_by_a_tool = jwt.encode(claims, signer.private_key, algorithm="EdDSA", headers={"kid": signer.key_id})
    within = issue_token(signer, sub="nguyen.van.a", role="so_ct", ttl=timedelta(hours=12))
    app = create_app(settings)
    with served(app) as base:
        refused = httpx.get(f"{base}/establishments", headers={"Authorization": f"Bearer {forged_by_a_tool}"})
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "12" in refused.json()["detail"]
        accepted = httpx.get(f"{base}/establishments", headers={"Authorization": f"Bearer {within}"})
        assert accepted.status_code == 200, accepted.text
    app.state.runtime.close()
