"""Sign-in, sessions, CSRF and lock-out on the console's real app (its own SQLite; no service is
called by these pages)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kc_console.main import create_app
from kc_console.settings import ConsoleSettings
from kc_console.web.common import SESSION_COOKIE

PASSWORD = "mat-khau-rat-dai-1"


@pytest.fixture
def app_and_client(tmp_path: Path) -> Iterator[tuple[object, TestClient]]:
    settings = ConsoleSettings(instance="tinh-40", var_dir=tmp_path / "var", lockout_failures=3)
    app = create_app(settings)
    store = app.state.console.store
    store.create_account("quantri.test", display_name="Quản trị", role="quan_tri", password=PASSWORD, by="test")
    store.create_account("so.test", display_name="Nguyễn Văn A", role="so_ct", password=PASSWORD, by="test")
    with TestClient(app, base_url="http://testserver") as client:
        yield app, client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found[1]


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> object:
    token = csrf(client.get("/dang-nhap").text)
    return client.post(
        "/dang-nhap", data={"csrf_token": token, "username": username, "password": password}, follow_redirects=False
    )


def test_sign_in_sets_an_httponly_strict_session_cookie_and_every_page_offers_sign_out(app_and_client) -> None:
    _, client = app_and_client
    response = sign_in(client, "quantri.test")
    assert response.status_code == 303 and response.headers["location"] == "/quan-tri"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    page = client.get("/quan-tri")
    assert page.status_code == 200 and "Đăng xuất" in page.text and "so.test" in page.text
    assert "content-security-policy" in page.headers and "cdn" not in page.text.lower()


def test_a_wrong_password_and_an_unknown_name_read_the_same_and_repeated_failures_lock(app_and_client) -> None:
    app, client = app_and_client
    unknown = sign_in(client, "khong.co")
    wrong = sign_in(client, "so.test", "sai-mat-khau-1")
    assert unknown.status_code == wrong.status_code == 401
    assert (
        "Tên đăng nhập hoặc mật khẩu không đúng" in unknown.text
        and "Tên đăng nhập hoặc mật khẩu không đúng" in wrong.text
    )
    sign_in(client, "so.test", "sai-mat-khau-2")
    locked = sign_in(client, "so.test", "sai-mat-khau-3")
    assert "Tài khoản tạm khóa" in locked.text
    # the right password does not open a locked account
    assert "Tài khoản tạm khóa" in sign_in(client, "so.test").text
    store = app.state.console.store
    assert store.account("so.test").locked()
    store.unlock("so.test", by="quantri.test")
    assert sign_in(client, "so.test").status_code == 303
    actions = [r["action"] for r in store.activity("so.test")]
    assert "khoa_tai_khoan" in actions and actions[0] == "dang_nhap"


def test_a_forged_csrf_token_is_refused_in_vietnamese_and_nothing_is_written(app_and_client) -> None:
    app, client = app_and_client
    sign_in(client, "quantri.test")
    before = len(app.state.console.store.accounts())
    response = client.post(
        "/quan-tri/tao",
        data={"csrf_token": "gia-mao", "username": "moi.test", "display_name": "Mới", "role": "xa"},
    )
    assert response.status_code == 403
    assert "Mã bảo vệ biểu mẫu (CSRF) không khớp" in response.text and "Chưa có gì được ghi" in response.text
    assert len(app.state.console.store.accounts()) == before
    # without any token at all: the same
    assert client.post("/quan-tri/tao", data={"username": "moi.test"}).status_code == 403
    assert app.state.console.store.account("moi.test") is None


def test_an_expired_session_sends_back_to_sign_in_and_a_form_posted_then_writes_nothing(app_and_client) -> None:
    app, client = app_and_client
    sign_in(client, "quantri.test")
    token = csrf(client.get("/quan-tri").text)
    session_id = client.cookies.get(SESSION_COOKIE)
    app.state.console.store.age_session(session_id, 3 * 3600)
    page = client.get("/quan-tri", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/dang-nhap?het_han=1"
    assert "Phiên làm việc đã hết hạn" in client.get("/dang-nhap?het_han=1").text
    # the cookie is still sent (the browser kept it): the post is refused, nothing created
    client.cookies.set(SESSION_COOKIE, session_id)
    app.state.console.store.age_session(session_id, 3 * 3600)
    posted = client.post(
        "/quan-tri/tao",
        data={"csrf_token": token, "username": "moi.test", "display_name": "Mới", "role": "xa"},
    )
    assert posted.status_code == 401 and "Phiên làm việc đã hết hạn" in posted.text
    assert app.state.console.store.account("moi.test") is None


def test_sign_out_ends_the_session(app_and_client) -> None:
    _, client = app_and_client
    sign_in(client, "quantri.test")
    token = csrf(client.get("/quan-tri").text)
    session_id = client.cookies.get(SESSION_COOKIE)
    out = client.post("/dang-xuat", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/dang-nhap"
    client.cookies.set(SESSION_COOKIE, session_id)
    assert client.get("/quan-tri", follow_redirects=False).headers["location"].startswith("/dang-nhap")


def test_the_admin_creates_and_disables_an_account_and_its_sessions_end(app_and_client) -> None:
    app, client = app_and_client
    sign_in(client, "quantri.test")
    token = csrf(client.get("/quan-tri").text)
    made = client.post(
        "/quan-tri/tao",
        data={"csrf_token": token, "username": "xa.test", "display_name": "Cán bộ xã", "role": "xa"},
    )
    assert made.status_code == 200
    password = re.search(r"xa\.test / ([\w-]+)", made.text)[1]
    other = TestClient(app, base_url="http://testserver")
    assert sign_in(other, "xa.test", password).status_code == 303
    client.post("/quan-tri/xa.test/vo-hieu", data={"csrf_token": token})
    assert app.state.console.store.account("xa.test").status == "disabled"
    assert other.get("/", follow_redirects=False).headers["location"].startswith("/dang-nhap")
    assert "vô hiệu hóa" in sign_in(other, "xa.test", password).text


def test_an_officer_is_not_an_administrator(app_and_client) -> None:
    _, client = app_and_client
    sign_in(client, "so.test")
    page = client.get("/quan-tri")
    assert page.status_code == 403 and "quản trị" in page.text
