"""``kc backup`` / ``kc restore``: an instance's database, keys, files and a verified export of its stream
in one folder (or tarball) with a signed manifest, and back onto a fresh database or machine.

A backup holds:

- ``database/postgresql.dump``: the instance's PostgreSQL database (``KC_DATABASE_URL``), by
  ``pg_dump --format=custom`` (every service's schema: events, tracking, views, outbox chain);
- ``database/<name>.sqlite``: each SQLite file under ``<var>/<instance>/`` (the services' stores when
  there is no PostgreSQL, the console's accounts always), copied with SQLite's online backup API;
- ``files/…``: the other files under ``<var>/<instance>/`` (a đề án's documents, the registry's
  documents, the mail sink), byte for byte;
- ``keys/<instance>.key`` (mode 0600) and ``keys/trust.json``;
- ``stream/``: an audit bundle of the instance's stream (:mod:`kc_cli.audit.bundle`), read by the one
  JetStream reader and verified as it is read, then verified again from the files written;
- ``manifest.json``: the SHA-256 and size of every part, the stream's counts and chain heads, the
  database's versions; ``manifest.sig``: the manifest signed with the instance's key.

The stream is exported after the database is dumped, so it holds at least every event the dumped
outbox relays had published (an event saved but not yet published is in the dump; the relay publishes
it after the restore, under the same message id).

``kc restore`` checks everything before it writes anything: every part against the manifest (a file
changed, missing or added is refused in one line, exit 1), the manifest's signature against the trust
file (the backup's own, or ``--trust``), the stream bundle event by event; then that the target database
is empty, no file would be overwritten and the bus holds nothing else under the instance's stream. It
then writes the keys, the SQLite files and files, restores the dump with ``pg_restore`` in one
transaction and, given a bus, republishes the stream's exact bytes in order (the same sequence numbers,
the same message ids) — on a bus that still holds them, nothing is published.

Exit codes: 0 done, 1 the backup does not verify (tampered, incomplete) or the stream failed
verification at backup time, 2 could not run.
"""

from kc_cli.backup.commands import backup, restore
from kc_cli.backup.parts import FORMAT, BackupError, TamperedError, sha256_file

__all__ = ["FORMAT", "BackupError", "TamperedError", "backup", "restore", "sha256_file"]
