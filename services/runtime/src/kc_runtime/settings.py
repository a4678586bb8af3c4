"""Settings every service reads from the environment (prefix ``KC_``), never at import time."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from kc_contracts.subjects import check_instance
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """``KC_INSTANCE``, ``KC_NATS_URL``, ``KC_DATABASE_URL`` ... (see the README's reference)."""

    model_config = SettingsConfigDict(env_prefix="KC_", extra="ignore")

    instance: str = Field("tinh-40", description="bo | tinh-<mã tỉnh>")
    service: str = Field("registry", description="registry | appraisal | planning | notifications")
    nats_url: str = Field(
        "nats://127.0.0.1:4222",
        description="NATS server URL(s), comma-separated for a cluster; credentials as nats://user:password@host",
    )
    var_dir: Path = Path("var")
    database_url: str | None = Field(
        None,
        description="PostgreSQL DSN (postgresql://user@host:port/db); empty: SQLite under var/",
    )
    database_schema: str | None = Field(None, description="PostgreSQL schema; default kc_<instance>_<service>")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    peers: list[str] = Field(
        default_factory=list,
        description="Other instances whose streams this one reads (the ministry: the provinces; a province: bo)",
    )
    log_level: str = "INFO"
    log_json: bool | None = Field(None, description="JSON logs; default: JSON unless stderr is a TTY")
    keys_dir: Path | None = Field(None, description="signing key and trust file folder; default <var_dir>/keys")
    trust_file: Path | None = Field(None, description="trusted instance public keys; default <keys_dir>/trust.json")
    nak_delay_seconds: float = 2.0
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    # how often /metrics' consumer lag is read from JetStream (one consumer-info request per durable)
    metrics_sample_seconds: float = 15.0
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("kc_otlp_endpoint", "otel_exporter_otlp_endpoint", "otlp_endpoint"),
        description="OpenTelemetry: export the service's trace spans by OTLP/HTTP to <endpoint>/v1/traces "
        "(a collector, e.g. http://127.0.0.1:4318); empty: tracing not exported, OpenTelemetry not loaded",
    )

    @field_validator("instance")
    @classmethod
    def _instance(cls, value: str) -> str:
        return check_instance(value)

    @property
    def key_folder(self) -> Path:
        return self.keys_dir or self.var_dir / "keys"

    @property
    def signing_key_path(self) -> Path:
        return self.key_folder / f"{self.instance}.key"

    @property
    def trust_path(self) -> Path:
        return self.trust_file or self.key_folder / "trust.json"

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    @property
    def nats_credentials(self) -> tuple[list[str], str | None, str | None]:
        """The servers without credentials, and the user and password given in them (nats-py adds the
        cluster's other servers it learns about without credentials: passed apart, they apply to all)."""
        plain, user, password = [], None, None
        for url in self.nats_servers:
            parts = urlsplit(url)
            if parts.username:
                user, password = unquote(parts.username), unquote(parts.password or "")
            plain.append(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))
        return plain, user, password

    @property
    def sqlite_path(self) -> Path:
        return self.var_dir / self.instance / f"{self.service}.sqlite"

    @property
    def postgres_schema(self) -> str:
        default = f"kc_{self.instance}_{self.service}".replace("-", "_")
        return self.database_schema or default
