"""E-mail: Vietnamese templates (text + HTML, Jinja2), sending over SMTP (aiosmtplib), and the
embedded SMTP sink (aiosmtpd) that ``make run`` uses, which keeps every message under var/."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from pathlib import Path
from typing import Any

import aiosmtplib
from aiosmtpd.controller import Controller
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from kc_kernel.vocabulary import format_date, format_money, label

SUBJECTS = {
    "reminder": "[Khuyến công] Nhắc hạn {kind_label} kế hoạch năm {year} — còn {lead} ngày",
    "status": "[Khuyến công] Đề án {code}: {headline}",
}


@cache
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("kc_notifications", "templates"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html.j2"]),
        keep_trailing_newline=True,
    )
    # codes in a message's context reach the reader as labels: {{ instance | label("instance") }}
    env.filters["label"] = lambda code, kind: label(kind, code)
    env.filters["money"] = format_money
    env.filters["date"] = format_date
    return env


def render(template: str, context: dict[str, Any], *, sender: str, to: str, message_key: str) -> EmailMessage:
    """One message; its Message-ID derives from the notification, so a resend is recognisable."""
    message = EmailMessage()
    message["Subject"] = SUBJECTS[template].format(**context)
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(idstring=message_key.replace(":", "."), domain="khuyencong.local")
    message.set_content(templates().get_template(f"{template}.txt.j2").render(**context))
    message.add_alternative(
        templates().get_template(f"{template}.html.j2").render(subject=message["Subject"], **context), subtype="html"
    )
    return message


async def send(message: EmailMessage, host: str, port: int) -> None:
    await aiosmtplib.send(message, hostname=host, port=port, timeout=20)


class _SaveToDisk:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        (self.directory / f"{stamp}.eml").write_bytes(envelope.content)
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server on 127.0.0.1 that stores what it receives as .eml files (development, demo)."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.controller = Controller(_SaveToDisk(directory), hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def messages(self, limit: int = 50) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.directory.glob("*.eml"), reverse=True)[:limit]:
            parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = parsed.get_body(preferencelist=("plain",))
            out.append(
                {
                    "file": path.name,
                    "to": parsed["To"],
                    "subject": parsed["Subject"],
                    "message_id": parsed["Message-ID"],
                    "text": body.get_content() if body else "",
                }
            )
        return out
