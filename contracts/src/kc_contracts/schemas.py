"""Generate, check and compare the committed JSON Schemas of the contract events.

``python -m kc_contracts.schemas generate`` writes ``contracts/schemas/<type>.v<N>.json``;
``check`` fails when a committed schema differs from its model. A committed schema is a published
version: generation refuses a change that removes, renames or retypes one of its fields, or that
makes a field required; adding optional fields is the only change a published version accepts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kc_contracts.base import ContractEvent, ContractRegistry, registry

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_of(model: type[ContractEvent]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    schema["$id"] = f"urn:khuyencong:schema:{model.schema_name()}"
    schema["x-kc-type"] = model.type
    schema["x-kc-version"] = model.version
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def incompatibilities(published: dict[str, Any], candidate: dict[str, Any]) -> list[str]:
    """Why ``candidate`` cannot replace ``published`` as the same contract version (empty: it can)."""
    problems: list[str] = []
    old_props: dict[str, Any] = published.get("properties", {})
    new_props: dict[str, Any] = candidate.get("properties", {})
    old_required = set(published.get("required", []))
    new_required = set(candidate.get("required", []))
    for name, old in old_props.items():
        if name not in new_props:
            problems.append(f"field '{name}' was removed or renamed")
            continue
        if _shape(old) != _shape(new_props[name]):
            problems.append(f"field '{name}' changed type: {_shape(old)} -> {_shape(new_props[name])}")
    for name in new_required - old_required:
        problems.append(f"field '{name}' became required")
    return problems


def _shape(prop: dict[str, Any]) -> Any:
    """The parts of a property schema that decide what values it accepts."""
    keys = ("type", "format", "$ref", "anyOf", "items", "enum", "const")
    return {k: prop[k] for k in keys if k in prop}


def generate(contracts: ContractRegistry = registry, directory: Path = SCHEMA_DIR) -> list[str]:
    """Write the schemas; return the problems that stopped a published schema being overwritten."""
    directory.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for model in contracts.all():
        path = directory / f"{model.schema_name()}.json"
        schema = schema_of(model)
        if path.exists():
            broken = incompatibilities(json.loads(path.read_text()), schema)
            if broken:
                problems += [f"{model.schema_name()}: {p}" for p in broken]
                continue
        path.write_text(render(schema))
    return problems


def drift(contracts: ContractRegistry = registry, directory: Path = SCHEMA_DIR) -> list[str]:
    """Models whose committed schema is missing or differs."""
    out = []
    for model in contracts.all():
        path = directory / f"{model.schema_name()}.json"
        if not path.exists():
            out.append(f"{model.schema_name()}: no committed schema")
        elif path.read_text() != render(schema_of(model)):
            out.append(f"{model.schema_name()}: committed schema differs from the model")
    return out


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "generate":
        problems = generate()
        if problems:
            print("Không ghi đè phiên bản đã công bố / refusing to change published versions:")
            print("\n".join(f"  - {p}" for p in problems))
            print("Publish a new version (vN+1) beside the old one instead.")
            return 1
        return 0
    if command == "check":
        problems = drift()
        print("\n".join(problems) or "schemas up to date")
        return 1 if problems else 0
    print("usage: python -m kc_contracts.schemas [generate|check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
