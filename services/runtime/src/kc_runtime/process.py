"""Running one service as a process: settings from the environment, logging, uvicorn."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from kc_runtime.logs import configure_logging
from kc_runtime.settings import Settings


def serve(service: str, create_app: Callable[[Any], FastAPI], settings_class: type[Settings] = Settings) -> None:
    try:
        settings = settings_class(service=service)
    except ValidationError as exc:
        err = exc.errors()[0]
        print(
            f"cấu hình sai / bad configuration: KC_{str(err['loc'][0]).upper()}: {err['msg']}",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    configure_logging(settings.log_level, settings.log_json, instance=settings.instance, service=service)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
