"""``kc instance``: install and run a province's (or the ministry's) instance from its file.

See :mod:`kc_ops.instance` and the README's "Install a province instance"."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from kc_ops import instance as inst

instance_app = typer.Typer(
    help="Cài đặt và chạy một hệ thống (tỉnh hoặc Bộ) từ tệp cấu hình / an instance from its file",
    no_args_is_help=True,
)
ConfigFile = Annotated[Path, typer.Argument(help="e.g. deploy/instance/tinh-40.toml")]


def _load(path: Path) -> inst.InstanceConfig:
    try:
        return inst.load(path)
    except inst.InstanceConfigError as exc:
        typer.echo(f"lỗi / error: {exc}", err=True)
        raise typer.Exit(2) from None


@instance_app.command()
def check(file: ConfigFile) -> None:
    """Điều gì sai, mỗi điều một dòng; mã thoát 1 nếu có / what is wrong, one line each."""
    cfg = _load(file)
    findings = inst.check(cfg)
    for finding in findings:
        mark = "! chú ý / note:" if finding.warning else "  ổn / ok:" if finding.ok else "✘"
        typer.echo(f"{mark} {finding.text}")
    wrong = sum(not f.ok for f in findings)
    if wrong:
        typer.echo(f"{cfg.id}: {wrong} lỗi / {wrong} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{cfg.id}: mọi thứ sẵn sàng / all good")


@instance_app.command()
def up(
    file: ConfigFile,
    fork: Annotated[bool, typer.Option(help="fork the services from one warm interpreter")] = os.environ.get(
        "KC_FORK_SERVICES", "1"
    )
    != "0",
) -> None:
    """Khởi động bus và các dịch vụ, tự khởi động lại khi lỗi; Ctrl-C dừng / bring it up, supervised."""
    raise typer.Exit(inst.up(_load(file), fork=fork))


@instance_app.command()
def init(file: ConfigFile) -> None:
    """Tạo khóa ký (và ở Bộ: mật khẩu NATS cho mọi tài khoản) / the signing key (hub: NATS passwords)."""
    for line in inst.init(_load(file)):
        typer.echo(line)


@instance_app.command()
def trust(file: ConfigFile, other: Annotated[Path, typer.Argument(help="another instance's trust.json")]) -> None:
    """Tin cậy khóa công khai của hệ thống khác / trust another instance's public keys."""
    try:
        lines = inst.trust(_load(file), other)
    except (inst.InstanceConfigError, OSError, ValueError) as exc:
        typer.echo(f"lỗi / error: {exc}", err=True)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)


@instance_app.command()
def units(
    file: ConfigFile,
    user: Annotated[str | None, typer.Option(help="the system user it runs as")] = None,
    out: Annotated[Path | None, typer.Option(help="directory to write khuyencong-<id>.service into")] = None,
) -> None:
    """Tệp systemd chạy `kc instance up FILE` / a systemd unit for it."""
    cfg = _load(file)
    text = inst.unit(cfg, user=user)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"khuyencong-{cfg.id}.service"
    path.write_text(text, "utf-8")
    typer.echo(f"{path}: systemctl enable --now {path.name}")
