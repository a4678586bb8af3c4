"""The event catalogue: an AsyncAPI 3.0 document generated from the contract registry, published
under ``docs/`` with the JSON Schemas and kept in sync by a test (``python -m kc_contracts.asyncapi
generate|check``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kc_contracts.base import ContractRegistry, registry
from kc_contracts.envelope import Envelope
from kc_contracts.schemas import render, schema_of

DOCS = Path(__file__).resolve().parents[3] / "docs"


def document(contracts: ContractRegistry = registry) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for model in contracts.all():
        name = model.schema_name()
        service = model.type.split(".")[0]
        messages[name] = {
            "name": name,
            "title": model.__name__,
            "summary": ((model.__doc__ or "").strip().splitlines() or [model.type])[0],
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {
                        "type": "string",
                        "description": "sha256:<hex> of the message's bytes (the signed envelope's hash): "
                        "stable across republishes, unclaimable without those bytes",
                    }
                },
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/envelope"},
                    {
                        "type": "object",
                        "properties": {"type": {"const": f"kc.{name}"}, "data": {"$ref": f"schemas/{name}.json"}},
                    },
                ]
            },
        }
        channels[name] = {
            "address": f"kc.{{instance}}.{name}",
            "parameters": {"instance": {"description": "bo | tinh-<official province code>"}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"{service}.publishes.{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"Published by the {service} service of each instance",
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "khuyencong events",
            "version": "1",
            "description": "Public events of the khuyến công services. Each is a CloudEvents 1.0 envelope on the "
            "instance's JetStream stream (KC_BO, KC_TINH_<code>); a version only gains optional fields.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {"local": {"host": "127.0.0.1:14222", "protocol": "nats", "description": "make run"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": {"envelope": Envelope.model_json_schema(mode="serialization")}},
    }


def files(contracts: ContractRegistry = registry) -> dict[Path, str]:
    out = {DOCS / "asyncapi.json": json.dumps(document(contracts), ensure_ascii=False, indent=2, sort_keys=True) + "\n"}
    for model in contracts.all():
        out[DOCS / "schemas" / f"{model.schema_name()}.json"] = render(schema_of(model))
    out[DOCS / "schemas" / "envelope.json"] = render(Envelope.model_json_schema(mode="serialization"))
    return out


def main(argv: list[str]) -> int:
    wanted = files()
    if argv and argv[0] == "generate":
        for path, text in wanted.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return 0
    stale = [str(p.relative_to(DOCS.parent)) for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    print("\n".join(stale) or "docs/asyncapi.json and docs/schemas up to date")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
