"""The audit bundle: its format, writing it as messages arrive, its manifest (signed when the
instance's key is at hand), and verifying it offline."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import IO, Any

from kc_contracts.integrity import (
    IntegrityError,
    TrustStore,
    canonical,
)
from kc_contracts.subjects import instance_subjects
from kc_runtime.bus.reader import Stored
from kc_runtime.bus.streamaudit import (
    Audit,
    AuditError,
    StreamState,
)

from kc_cli.audit.local import checked_instance, load_trust
from kc_cli.audit.render import progress_bar, rate, short

BUNDLE_FORMAT = "khuyencong-audit-bundle/1"
EVENTS, INDEX, TRUST, MANIFEST, MANIFEST_SIG = (
    "events.jsonl",
    "index.jsonl",
    "trust.json",
    "manifest.json",
    "manifest.sig",
)


def _sha256_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def _iso_ns(ns: int) -> str | None:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat() if ns else None


class BundleWriter:
    """Writes ``events.jsonl`` and ``index.jsonl`` line for line as messages arrive."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.events: IO[bytes] = (out / EVENTS).open("wb")
        self.index: IO[bytes] = (out / INDEX).open("wb")
        self.lines = 0
        self.rewritten = 0

    def __call__(self, msg: Stored) -> None:
        line = msg.data
        entry: dict[str, Any] = {"seq": msg.seq}
        try:
            body = json.loads(line)
        except ValueError:
            body = None
        if isinstance(body, dict):
            entry |= {
                "id": body.get("id"),
                "source": body.get("source"),
                "type": body.get("type"),
                "kcseq": body.get("kcseq"),
            }
        entry |= {"subject": msg.subject, "stored": _iso_ns(msg.stored_ns)}
        if b"\n" in line or b"\r" in line:  # never canonical JSON; as JSON a line break is only whitespace
            entry["bus_sha256"] = "sha256:" + hashlib.sha256(line).hexdigest()
            entry["rewritten"] = "line breaks -> spaces"
            line = line.replace(b"\r", b" ").replace(b"\n", b" ")
            self.rewritten += 1
        entry["sha256"] = "sha256:" + hashlib.sha256(line).hexdigest()
        self.events.write(line + b"\n")
        self.index.write(canonical(entry) + b"\n")
        self.lines += 1

    def close(self) -> None:
        self.events.close()
        self.index.close()


def build_manifest(audit: Audit, state: StreamState, out: Path, trust_source: Path) -> dict[str, Any]:
    files = {}
    for name in (EVENTS, INDEX, TRUST):
        digest, size = _sha256_file(out / name)
        files[name] = {"sha256": digest, "bytes": size}
    files[EVENTS]["lines"] = files[INDEX]["lines"] = audit.messages
    return {
        "format": BUNDLE_FORMAT,
        "instance": audit.instance,
        "stream": state.name,
        "subjects": instance_subjects(audit.instance),
        "exported_at": datetime.now(UTC).isoformat(),
        "exported_by": "kc audit export",
        "trust_source": str(trust_source),
        "messages": audit.messages,
        "first_seq": audit.first_seq,
        "last_seq": audit.last_seq,
        "stream_last_seq": state.last_seq,
        "missing_seqs": audit.missing_seqs,
        "republished_copies": len(audit.duplicates),
        "files": files,
        "publishers": {
            source: {k: p[k] for k in ("events", "chain_length", "head_hash", "first_seq", "last_seq", "keys")}
            for source, p in audit.publishers().items()
        },
        "event_types": dict(sorted(audit.types.items())),
        "keys": audit.key_records(),
        "failures_at_export": len(audit.failures),
    }


def used_keys(trust: TrustStore, audit: Audit) -> TrustStore:
    """The trusted public keys that signed something in the stream (with their rotation state)."""
    subset = TrustStore()
    for kid, instance in sorted(audit.key_instance.items()):
        key = trust.find(instance, kid)
        if key is not None:
            subset.add(key)
    return subset


def sign_manifest(manifest: dict[str, Any], keys_dir: Path, instance: str) -> dict[str, str] | None:
    from kc_runtime.keys import MissingKeyError, key_file, load_signer

    try:
        signer = load_signer(key_file(keys_dir, instance), instance)
    except (MissingKeyError, OSError, ValueError, KeyError):
        return None
    return {"instance": instance, "key_id": signer.key_id, "signature": signer.sign_bytes(canonical(manifest))}


def verify_bundle(bundle: Path, trust_path: Path | None, batch: int = 5000) -> tuple[Audit, dict[str, Any], str]:
    """Check a bundle offline: its files against the manifest, then every line, signature and link."""
    if not (bundle / MANIFEST).is_file():
        raise AuditError(f"{bundle} không phải gói kiểm toán (thiếu {MANIFEST}) / not an audit bundle")
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise AuditError(f"{MANIFEST} hỏng / unreadable: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise AuditError(f"{MANIFEST}: định dạng không biết / unknown format (expected {BUNDLE_FORMAT})")
    for name in (EVENTS, INDEX):
        if not (bundle / name).is_file():
            raise AuditError(f"gói thiếu {name} / the bundle has no {name}")
    trust_file = trust_path or bundle / TRUST
    trust = load_trust(trust_file)
    instance = checked_instance(str(manifest.get("instance")))
    audit = Audit(instance, trust)

    # 1. the files are those the manifest describes
    for name, expected in sorted((manifest.get("files") or {}).items()):
        path = bundle / name
        if not path.is_file():
            audit.fail(None, name, "", "file_missing", f"gói thiếu / the bundle has no {name}")
            continue
        digest, _ = _sha256_file(path)
        if digest != expected.get("sha256"):
            audit.fail(
                None,
                name,
                "",
                "file_changed",
                f"{name}: sha256 {short(digest)} ≠ manifest {short(expected.get('sha256'))}",
            )
    signature = check_manifest_signature(bundle, manifest, trust, audit)

    # 2. every line: its bytes as exported, its signature, its link
    began = time.perf_counter()
    total = int(manifest.get("messages") or 0)
    with progress_bar() as bar, (bundle / EVENTS).open("rb") as events, (bundle / INDEX).open("rb") as index:
        task = bar.add_task(f"{bundle.name}/{EVENTS}", total=total or None, rate="")
        for n, (raw, idx) in enumerate(zip_longest(_lines(events), _lines(index)), start=1):
            if raw is None or idx is None:
                audit.fail(
                    None,
                    EVENTS if raw is not None else INDEX,
                    "",
                    "line_count",
                    f"{EVENTS} và {INDEX} không cùng số dòng (dòng {n}) / differ in length (line {n})",
                )
                break
            try:
                entry = json.loads(idx)
                seq = int(entry["seq"])
            except (ValueError, KeyError, TypeError):
                audit.fail(None, f"{INDEX}:{n}", "", "bad_index", f"dòng {n} của {INDEX} hỏng / line {n} unreadable")
                continue
            line_hash = "sha256:" + hashlib.sha256(raw).hexdigest()
            if line_hash != entry.get("sha256"):
                audit.fail(
                    seq,
                    str(entry.get("id") or "?"),
                    str(entry.get("source") or "?"),
                    "changed_bytes",
                    f"dòng {n} của {EVENTS} khác bản đã xuất / line {n} differs from the exported bytes",
                )
            audit.add(seq, str(entry.get("subject") or ""), raw, entry)
            if n % batch == 0:
                bar.update(task, completed=n, rate=rate(n, began))
        bar.update(task, completed=audit.messages, rate=rate(audit.messages, began))

    # 3. what was found is what the manifest says
    compare_manifest(audit, manifest)
    return audit, manifest, signature


def _lines(f: IO[bytes]) -> Iterator[bytes]:
    for line in f:
        yield line.rstrip(b"\n")


def check_manifest_signature(bundle: Path, manifest: dict[str, Any], trust: TrustStore, audit: Audit) -> str:
    path = bundle / MANIFEST_SIG
    if not path.is_file():
        return "không ký / unsigned (so sánh đầu chuỗi với hệ thống đang chạy / compare chain heads with the live bus)"
    try:
        sig = json.loads(path.read_text(encoding="utf-8"))
        key = trust.verify_bytes(str(sig["instance"]), canonical(manifest), str(sig["signature"]), str(sig["key_id"]))
    except IntegrityError as exc:
        audit.fail(None, MANIFEST, "", "manifest_signature", exc.message)
        return f"✘ {exc.message}"
    except (ValueError, KeyError, TypeError) as exc:
        audit.fail(None, MANIFEST, "", "manifest_signature", f"{MANIFEST_SIG} hỏng / unreadable: {exc}")
        return "✘ unreadable"
    return f"✔ {key.instance} {key.key_id}"


def compare_manifest(audit: Audit, manifest: dict[str, Any]) -> None:
    def differ(what: str, found: Any, claimed: Any) -> None:
        audit.fail(
            None, MANIFEST, "", "manifest_mismatch", f"{what}: tìm thấy / found {found}, manifest ghi / says {claimed}"
        )

    for key, found in (
        ("messages", audit.messages),
        ("first_seq", audit.first_seq),
        ("last_seq", audit.last_seq),
        ("republished_copies", len(audit.duplicates)),
    ):
        if manifest.get(key) != found:
            differ(key, found, manifest.get(key))
    if manifest.get("event_types") != dict(sorted(audit.types.items())):
        differ("event_types", dict(audit.types), manifest.get("event_types"))
    claimed = manifest.get("publishers") or {}
    found_publishers = audit.publishers()
    for source in sorted(set(claimed) | set(found_publishers)):
        c, f = claimed.get(source), found_publishers.get(source)
        if c is None or f is None:
            differ(f"publisher {source}", "có" if f else "không có", "có" if c else "không có")
            continue
        for key in ("events", "chain_length", "head_hash"):
            if c.get(key) != f[key]:
                differ(f"{source} {key}", f[key], c.get(key))
