"""The console's own data, one SQLite file per instance (``var/<instance>/console.sqlite``): officer
accounts (argon2 password hashes), sign-in sessions and each account's activity.

Nothing of the programme is kept here: đề án, establishments and plans are read from and written to
the services over their HTTP APIs, with a token minted for the signed-in officer.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from kc_kernel.vocabulary import VIETNAM_TIME as VIETNAM

from kc_console.roles import CONSOLE_ROLES, role_valid_for

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    unit TEXT,
    email TEXT,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',      -- active | disabled | pending (a unit's request)
    failed INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    last_sign_in REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    ok INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS activity_by_user ON activity(username, id);
"""

# what an account did, as the administrator reads it (đề án actions read as the vocabulary names them)
ACTIVITY: dict[str, str] = {
    "dang_nhap": "Đăng nhập",
    "dang_xuat": "Đăng xuất",
    "khoa_tai_khoan": "Tài khoản bị tạm khóa",
    "mo_khoa": "Mở khóa tài khoản",
    "tao_tai_khoan": "Tạo tài khoản",
    "kich_hoat": "Kích hoạt tài khoản",
    "vo_hieu_hoa": "Vô hiệu hóa tài khoản",
    "doi_mat_khau": "Đổi mật khẩu",
    "lap_de_an": "Lập đề án",
    "sua_de_an": "Sửa dự thảo đề án",
    "dang_ky_co_so": "Đăng ký cơ sở",
    "sua_co_so": "Sửa thông tin cơ sở",
    "nop_tai_lieu": "Nộp tài liệu hồ sơ",
    "xac_minh_tai_lieu": "Xác minh tài liệu",
    "tu_choi_tai_lieu": "Từ chối tài liệu",
    "ghi_cong_nhan": "Ghi nhận giấy chứng nhận",
    "nhap_co_so": "Nhập danh sách cơ sở",
    "phe_duyet_ke_hoach": "Phê duyệt đợt kế hoạch",
    "dieu_chinh_ke_hoach": "Điều chỉnh kế hoạch",
    "giao_du_toan": "Giao dự toán",
    "lich_ke_hoach": "Ghi lịch kế hoạch",
    "dang_ky_ke_hoach": "Đăng ký kế hoạch",
    "tao_webhook": "Đăng ký webhook",
    "doi_khoa_webhook": "Đổi khóa webhook",
    "webhook_tat": "Tạm ngừng webhook",
    "webhook_bat": "Bật lại webhook",
    "webhook_xoa": "Xóa webhook",
    "gui_lai_webhook": "Gửi lại lượt webhook",
    "kiem_tra_nhat_ky": "Kiểm tra chữ ký và chuỗi băm của nhật ký",
    "nop_tai_lieu_de_an": "Nộp tài liệu đề án",
    "anh_tien_do": "Thêm ảnh báo cáo tiến độ",
}


def activity_label(action: str) -> str:
    from kc_kernel.vocabulary import has_label, label

    if action in ACTIVITY:
        return ACTIVITY[action]
    return label("de_an_action", action) if has_label("de_an_action", action) else action


USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
_hasher = PasswordHasher()


class AccountError(Exception):
    """A request about accounts that cannot be done; ``field`` names the form field to correct."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str
    unit: str | None
    email: str | None
    status: str
    failed: int
    locked_until: float
    created_at: float
    created_by: str
    last_sign_in: float | None

    @property
    def is_admin(self) -> bool:
        return self.role == "quan_tri"

    def locked(self, now: float | None = None) -> bool:
        return self.locked_until > (now or time.time())


@dataclass(frozen=True)
class Session:
    id: str
    username: str
    csrf: str
    created: float
    last_seen: float


class SignInRefused(Exception):  # noqa: N818  (a refusal, not a fault)
    def __init__(self, message: str, locked_until: float = 0.0) -> None:
        super().__init__(message)
        self.locked_until = locked_until


def _hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def check_username(username: str) -> str:
    name = unicodedata.normalize("NFC", username.strip().lower())
    if not 3 <= len(name) <= 60 or not set(name) <= USERNAME_CHARS:
        raise AccountError(
            "Tên đăng nhập 3–60 ký tự: chữ không dấu, số, dấu chấm, gạch nối, gạch dưới", field="username"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < 10:
        raise AccountError("Mật khẩu cần ít nhất 10 ký tự", field="password")
    if len(password) > 200:
        raise AccountError("Mật khẩu tối đa 200 ký tự", field="password")
    return password


def generate_password() -> str:
    """A password a person can type: four groups of letters and digits."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


class ConsoleStore:
    def __init__(self, path: Path, *, instance: str, lockout_failures: int = 5, lockout_minutes: int = 15) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.instance = instance
        self.lockout_failures = lockout_failures
        self.lockout_seconds = lockout_minutes * 60
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())

    # -- accounts ---------------------------------------------------------------------------------
    def create_account(
        self,
        username: str,
        *,
        display_name: str,
        role: str,
        password: str,
        by: str,
        unit: str | None = None,
        email: str | None = None,
        status: str = "active",
    ) -> Account:
        username = check_username(username)
        display_name = " ".join(display_name.split())
        if not 1 <= len(display_name) <= 200:
            raise AccountError("Họ tên 1–200 ký tự", field="display_name")
        if role not in CONSOLE_ROLES:
            raise AccountError("Vai trò không có trong danh mục vai trò", field="role")
        if not role_valid_for(role, self.instance):
            raise AccountError(f"Vai trò này không dùng cho hệ thống {self.instance}", field="role")
        unit = " ".join((unit or "").split()) or None
        if role == "don_vi" and not unit:
            raise AccountError("Tài khoản đơn vị thực hiện cần tên đơn vị", field="unit")
        if unit and len(unit) > 200:
            raise AccountError("Tên đơn vị tối đa 200 ký tự", field="unit")
        if email and (len(email) > 200 or "@" not in email):
            raise AccountError("Địa chỉ thư điện tử không hợp lệ", field="email")
        digest = _hasher.hash(check_password(password))
        with self._tx() as db:
            if db.execute("SELECT 1 FROM accounts WHERE username = ?", (username,)).fetchone():
                raise AccountError("Tên đăng nhập đã có", field="username")
            db.execute(
                "INSERT INTO accounts (username, display_name, role, unit, email, password_hash, status, created_at,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (username, display_name, role, unit, email or None, digest, status, time.time(), by),
            )
            self._log(db, by, "tao_tai_khoan", f"{username} ({role})")
        account = self.account(username)
        assert account is not None
        return account

    def account(self, username: str) -> Account | None:
        rows = self._rows("SELECT * FROM accounts WHERE username = ?", (username.strip().lower(),))
        return _account(rows[0]) if rows else None

    def accounts(self, status: str | None = None) -> list[Account]:
        if status:
            return [
                _account(r) for r in self._rows("SELECT * FROM accounts WHERE status = ? ORDER BY username", (status,))
            ]
        return [_account(r) for r in self._rows("SELECT * FROM accounts ORDER BY username")]

    def set_status(self, username: str, status: str, by: str) -> Account:
        if status not in ("active", "disabled"):
            raise AccountError("Trạng thái không hợp lệ", field="status")
        with self._tx() as db:
            done = db.execute(
                "UPDATE accounts SET status = ?, failed = 0, locked_until = 0 WHERE username = ?", (status, username)
            ).rowcount
            if not done:
                raise AccountError("Không có tài khoản này", field="username")
            if status == "disabled":
                db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            action = {"active": "kich_hoat", "disabled": "vo_hieu_hoa"}[status]
            self._log(db, by, action, username)
        account = self.account(username)
        assert account is not None
        return account

    def unlock(self, username: str, by: str) -> None:
        with self._tx() as db:
            if not db.execute(
                "UPDATE accounts SET failed = 0, locked_until = 0 WHERE username = ?", (username,)
            ).rowcount:
                raise AccountError("Không có tài khoản này", field="username")
            self._log(db, by, "mo_khoa", username)

    def set_password(self, username: str, password: str, by: str) -> None:
        digest = _hasher.hash(check_password(password))
        with self._tx() as db:
            if not db.execute(
                "UPDATE accounts SET password_hash = ?, failed = 0, locked_until = 0 WHERE username = ?",
                (digest, username),
            ).rowcount:
                raise AccountError("Không có tài khoản này", field="username")
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            self._log(db, by, "doi_mat_khau", username)

    # -- signing in -------------------------------------------------------------------------------
    def authenticate(self, username: str, password: str) -> Account:
        """The account, or :class:`SignInRefused` with the message to show (the same for an unknown name
        and a wrong password). Repeated failures lock the account for a while. The failure and its
        record are committed before the refusal is raised."""
        with self._tx() as db:
            outcome = self._authenticate(db, username.strip().lower()[:60], password)
        if isinstance(outcome, SignInRefused):
            raise outcome
        return outcome

    def _authenticate(self, db: sqlite3.Connection, name: str, password: str) -> Account | SignInRefused:
        now = time.time()
        wrong = "Tên đăng nhập hoặc mật khẩu không đúng"
        row = db.execute("SELECT * FROM accounts WHERE username = ?", (name,)).fetchone()
        if row is None:
            _hasher.hash("timing")  # as long as a real check
            self._log(db, name or "?", "dang_nhap", "không có tài khoản", ok=False)
            return SignInRefused(wrong)
        account = _account(row)
        if account.locked(now):
            self._log(db, name, "dang_nhap", "tài khoản đang bị khóa", ok=False)
            return SignInRefused(_locked_message(account.locked_until), account.locked_until)
        try:
            _hasher.verify(row["password_hash"], password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            failed = account.failed + 1
            locked_until = now + self.lockout_seconds if failed >= self.lockout_failures else 0.0
            db.execute(
                "UPDATE accounts SET failed = ?, locked_until = ? WHERE username = ?",
                (0 if locked_until else failed, locked_until, name),
            )
            self._log(db, name, "dang_nhap", f"sai mật khẩu (lần {failed})", ok=False)
            if locked_until:
                self._log(db, name, "khoa_tai_khoan", f"{failed} lần đăng nhập sai liên tiếp", ok=False)
                return SignInRefused(_locked_message(locked_until), locked_until)
            return SignInRefused(wrong)
        if account.status == "pending":
            self._log(db, name, "dang_nhap", "tài khoản chờ Sở duyệt", ok=False)
            return SignInRefused("Tài khoản đang chờ Sở Công Thương duyệt")
        if account.status != "active":
            self._log(db, name, "dang_nhap", "tài khoản đã bị vô hiệu hóa", ok=False)
            return SignInRefused("Tài khoản đã bị vô hiệu hóa; liên hệ quản trị hệ thống")
        db.execute("UPDATE accounts SET failed = 0, locked_until = 0, last_sign_in = ? WHERE username = ?", (now, name))
        self._log(db, name, "dang_nhap", "")
        return account

    # -- sessions ---------------------------------------------------------------------------------
    def open_session(self, username: str) -> Session:
        session_id, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO sessions (id_hash, username, csrf, created, last_seen) VALUES (?, ?, ?, ?, ?)",
                (_hash_id(session_id), username, csrf, now, now),
            )
        return Session(session_id, username, csrf, now, now)

    def session(self, session_id: str, *, idle_seconds: float, max_seconds: float) -> Session | None:
        """The live session with this id (its last use moved to now), or None when unknown or expired."""
        now, key = time.time(), _hash_id(session_id)
        with self._tx() as db:
            row = db.execute("SELECT * FROM sessions WHERE id_hash = ?", (key,)).fetchone()
            if row is None:
                return None
            if now - row["last_seen"] > idle_seconds or now - row["created"] > max_seconds:
                db.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))
                return None
            if now - row["last_seen"] > 5:  # not a write for every page
                db.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, key))
        return Session(session_id, row["username"], row["csrf"], row["created"], now)

    def close_session(self, session_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (_hash_id(session_id),))

    def expire_sessions(self, *, idle_seconds: float, max_seconds: float) -> int:
        now = time.time()
        with self._tx() as db:
            return db.execute(
                "DELETE FROM sessions WHERE last_seen < ? OR created < ?", (now - idle_seconds, now - max_seconds)
            ).rowcount

    def age_session(self, session_id: str, seconds: float) -> None:
        """Move a session's clock back (tests of expiry; an operator's tool)."""
        with self._tx() as db:
            db.execute(
                "UPDATE sessions SET last_seen = last_seen - ?, created = created - ? WHERE id_hash = ?",
                (seconds, seconds, _hash_id(session_id)),
            )

    # -- activity ---------------------------------------------------------------------------------
    def log(self, username: str, action: str, detail: str = "", ok: bool = True) -> None:
        with self._tx() as db:
            self._log(db, username, action, detail, ok=ok)

    @staticmethod
    def _log(db: sqlite3.Connection, username: str, action: str, detail: str, ok: bool = True) -> None:
        db.execute(
            "INSERT INTO activity (at, username, action, detail, ok) VALUES (?, ?, ?, ?, ?)",
            (time.time(), username, action, detail[:500], int(ok)),
        )

    def activity(self, username: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        if username:
            rows = self._rows("SELECT * FROM activity WHERE username = ? ORDER BY id DESC LIMIT ?", (username, limit))
        else:
            rows = self._rows("SELECT * FROM activity ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]


def _account(row: sqlite3.Row) -> Account:
    return Account(
        username=row["username"],
        display_name=row["display_name"],
        role=row["role"],
        unit=row["unit"],
        email=row["email"],
        status=row["status"],
        failed=row["failed"],
        locked_until=row["locked_until"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        last_sign_in=row["last_sign_in"],
    )


def _locked_message(until: float) -> str:
    when = datetime.fromtimestamp(until, VIETNAM).strftime("%H:%M %d/%m/%Y")
    return f"Tài khoản tạm khóa do đăng nhập sai nhiều lần, đến {when}; quản trị hệ thống có thể mở khóa sớm hơn"
