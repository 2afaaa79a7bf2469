"""`make backup` / `make restore` (`clinic-backup`): the default profile's SQLite data, safely.

The default profile keeps everything in two SQLite files in DATA_DIR:
`clinic.db` (bookings, escalations, the outbox, staff accounts, the audit
log, annotations) and `conversations.db` (Rasa's tracker store).  Copying a
live SQLite file can catch it half-written; SQLite's online backup API gives
a consistent copy while the assistant runs.  Each backup is a directory
readable by the service's user only, with a manifest: the SHA-256 of each
file and how many rows each table holds.

A restore checks the manifest first (a damaged or incomplete backup is
refused), copies each database into place through the same API (into a
temporary file, then renamed over the old one, so a failure leaves the old
file whole), and counts the rows again.  Stop the assistant before
restoring: a running server keeps its database files open (the tracker
store keeps its connections) and would go on writing to the replaced ones,
so a restore refuses while any process has them open.

The production profile keeps its data in PostgreSQL: this refuses it and
prints the `pg_dump` / `pg_restore` steps (also in README).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

from clinic_core import settings
from clinic_core.storage import sqlite_path

MANIFEST = "manifest.json"
PG_STEPS = (
    "The production profile keeps its data in PostgreSQL. Back it up with\n"
    '  pg_dump --format=custom --file=clinic-$(date +%F).dump "$DATABASE_URL"\n'
    "and restore with\n"
    '  pg_restore --clean --if-exists --dbname="$DATABASE_URL" clinic-<date>.dump\n'
    "(the tracker store too, if TRACKER_STORE_URL names another database)."
)


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


def databases() -> dict[str, Path]:
    """The default profile's databases by name; refuses any other profile."""
    config = settings.load()
    found = {
        "clinic": sqlite_path(config.database_url),
        "conversations": sqlite_path(config.tracker_store_url),
    }
    if any(path is None for path in found.values()):
        raise BackupError(PG_STEPS)
    return {name: path for name, path in found.items() if path is not None}


def row_counts(path: Path) -> dict[str, int]:
    """Rows per table, read-only."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            for table in sorted(tables)
        }
    finally:
        connection.close()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a (possibly live) SQLite database, private to this user."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def backup(out: Path | None = None) -> Path:
    """Back up every database into a new private directory; returns it."""
    sources = databases()
    missing = [str(path) for path in sources.values() if not path.exists()]
    if missing:
        raise BackupError(f"nothing to back up: {', '.join(missing)} does not exist")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = out or settings.data_dir() / "backups" / f"backup-{stamp}"
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    target.mkdir(mode=0o700)
    manifest: dict[str, object] = {"created": stamp, "databases": {}}
    for name, source in sources.items():
        copy = target / f"{name}.db"
        copy_database(source, copy)
        manifest["databases"][name] = {  # type: ignore[index]
            "file": copy.name,
            "sha256": sha256(copy),
            "rows": row_counts(copy),
        }
    manifest_path = target / MANIFEST
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    manifest_path.chmod(0o600)
    return target


def checked_manifest(source: Path) -> dict:
    """The backup's manifest, once every file it lists matches its checksum."""
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
        entries = manifest["databases"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BackupError(f"{source} is not a backup made by clinic-backup ({error})") from error
    for entry in entries.values():
        path = source / entry["file"]
        if not path.is_file() or sha256(path) != entry["sha256"]:
            raise BackupError(f"{path} is missing or damaged: nothing was restored")
    return manifest


SIDE_FILES = ("-journal", "-wal", "-shm")  # what SQLite keeps beside a database file


def holders(paths: list[Path]) -> dict[int, Path]:
    """The processes that have one of these files (or its side files) open: pid -> file.

    Two readings of /proc (Linux; elsewhere nothing is found and the documented
    rule, stop the assistant first, is all there is): the open files of every
    process this user may read, and the file locks of every process
    (/proc/locks, readable by anyone: an open SQLite connection in WAL mode
    holds a lock on the `-shm` file).  Files are compared by device and inode.
    """
    wanted: dict[tuple[int, int], Path] = {}
    for path in paths:
        for suffix in ("", *SIDE_FILES):
            try:
                info = os.stat(str(path) + suffix)
            except OSError:
                continue
            wanted[(info.st_dev, info.st_ino)] = path
    found: dict[int, Path] = {}
    if not wanted:
        return found
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            fds = list(fd_dir.iterdir())
        except OSError:  # gone, or another user's
            continue
        for fd in fds:
            try:
                info = os.stat(fd)
            except OSError:  # closed meanwhile
                continue
            target = wanted.get((info.st_dev, info.st_ino))
            if target is not None:
                found[int(fd_dir.parent.name)] = target
    by_inode = {inode: path for (_dev, inode), path in wanted.items()}
    try:
        locks = Path("/proc/locks").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        locks = []
    for line in locks:
        fields = line.split()
        # "1: POSIX  ADVISORY  READ 1234 08:01:5678 128 128" (after "->" for a waiter)
        if "->" in fields:
            fields.remove("->")
        try:
            pid, inode = int(fields[4]), int(fields[5].rsplit(":", 1)[1])
        except (IndexError, ValueError):
            continue
        if inode in by_inode:
            found.setdefault(pid, by_inode[inode])
    return found


def restore(source: Path) -> dict[str, dict[str, int]]:
    """Put a backup's databases in place; returns the rows found after restoring."""
    manifest = checked_manifest(source)
    targets = databases()
    unknown = set(manifest["databases"]) - set(targets)
    if unknown:
        raise BackupError(f"the backup holds unknown databases: {sorted(unknown)}")
    busy = holders([targets[name] for name in manifest["databases"]])
    if busy:
        raise BackupError(
            f"{', '.join(sorted({str(p) for p in busy.values()}))} is open in process(es) "
            f"{', '.join(str(pid) for pid in sorted(busy))}: stop the assistant first"
        )
    restored: dict[str, dict[str, int]] = {}
    for name, entry in manifest["databases"].items():
        target = targets[name]
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = target.with_name(target.name + ".restoring")
        temporary.unlink(missing_ok=True)
        copy_database(source / entry["file"], temporary)
        # A journal left by the replaced file (a crash mid-write) must never be
        # rolled into the restored one when it is next opened.
        for suffix in SIDE_FILES:
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(temporary, target)
        restored[name] = row_counts(target)
        if restored[name] != entry["rows"]:
            raise BackupError(f"{name}: restored rows {restored[name]} differ from the backup's")
    return restored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("backup", help="back up the SQLite databases (safe while running)")
    made.add_argument("--out", type=Path, help="a new directory (default: DATA_DIR/backups/...)")
    put = commands.add_parser("restore", help="restore a backup (stop the assistant first)")
    put.add_argument("source", type=Path, help="the backup directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "backup":
            target = backup(args.out)
            print(f"Backup written to {target}")
        else:
            rows = restore(args.source)
            for name, tables in rows.items():
                summary = ", ".join(f"{table} {count}" for table, count in tables.items())
                print(f"restored {name}: {summary}")
    except BackupError as error:
        print(str(error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
