"""``kc audit``: what an auditor runs — replay and verify an instance's whole bus log, export it as a
bundle that verifies offline, rebuild the planning views and compare digests, read a đề án's
timeline and a view as of a past date.

Verification (``verify``) is :mod:`kc_runtime.bus.streamaudit`'s (the console's Kiểm toán page runs the
same): every message of the instance's stream read in order, every signature checked against the
trust file and every hash link of every publisher's chain from #1, each envelope where it belongs
(its instance, its source, its subject), byte-identical republishes counted, not failed, and each
publisher's chain compared with the head the publishing service reports (an event missing at the tail).

An audit bundle (``export``) is a folder:

- ``events.jsonl``: one envelope per line, the bytes as stored on the bus (canonical JSON never holds
  a line break; a forged message that did would have its line breaks turned into spaces, which does
  not change its JSON, and is flagged in the index);
- ``index.jsonl``: line for line, the stream sequence, event id, source, type, chain position,
  subject, storage time and the SHA-256 of the line, so a changed byte is found and named by the
  event it belongs to;
- ``trust.json``: the public keys that signed the events (from the trust file used);
- ``manifest.json``: instance, stream, time of export, counts per publisher and per event type,
  first and last sequence, the SHA-256 of the other files, each publisher's chain head (hash and
  length) and the keys' fingerprints; ``manifest.sig``: the manifest signed with the instance's key
  when it is at hand (it guards against a bundle cut short, which the chains alone cannot show).

``verify --bundle`` needs no NATS. It trusts the bundle's own ``trust.json`` unless ``--trust`` names
an independent one (which an auditor should).

Exit codes: 0 verified / equal, 1 verification failed / digests differ, 2 could not run.

The package, by concern (import-linter keeps each room below the one that uses it): ``commands`` (the
five commands and their options) → ``bundle`` (the bundle format, written and verified offline),
``bus`` (the stream on NATS, read by :mod:`kc_runtime.bus.reader` into
:mod:`kc_runtime.bus.streamaudit`'s verifier), ``client`` (the services over HTTP, the publishers'
chain heads) → ``render`` (Rich tables, progress) and ``local`` (the run file, keys, trust file).
"""

from kc_cli.audit.commands import audit_app

__all__ = ["audit_app"]
