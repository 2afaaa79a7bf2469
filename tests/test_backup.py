"""`make backup` / `make restore`: every record comes back, a damaged backup restores nothing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clinic_core import storage
from clinic_core.tables import Booking, Escalation, StaffUser
from scripts import backup as backups


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DATABASE_URL", "TRACKER_STORE_URL", "PROFILE"):
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "data"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("DATA_DIR", str(directory))
    yield directory
    for url in list(storage._engines):
        if str(directory) in url:
            storage._engines.pop(url).dispose()


def clinic_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'clinic.db'}"


def add_records(data_dir: Path, tag: str) -> None:
    """A booking, an escalation and a staff account in clinic.db; a conversation."""
    url = clinic_url(data_dir)
    storage.migrate(url)
    with storage.transaction(url) as session:
        session.add(
            Booking(
                reference=f"BK-{tag}",
                dedupe_key=f"key-{tag}",
                conversation_id=f"conv-{tag}",
                channel="rest",
                patient_name="Ana Diaz",
                phone="+12015550123",
                new_patient=True,
                preferred_start="2026-12-08T14:00:00-05:00",
                preferred_end="2026-12-08T17:00:00-05:00",
                preferred_time_text="tuesday afternoon",
                treatment_area="forehead",
                consent_to_contact=True,
            )
        )
        session.add(
            Escalation(
                reference=f"ES-{tag}",
                conversation_id=f"conv-{tag}",
                channel="rest",
                severity="urgent",
                reason="test",
                symptoms="swollen and hot",
            )
        )
        session.add(StaffUser(login=f"nurse-{tag}", password_hash="x", role="staff"))
    add_conversation(data_dir, f"conv-{tag}")


def add_conversation(data_dir: Path, sender: str) -> None:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(data_dir / "conversations.db"))
    tracker = DialogueStateTracker.from_events(
        sender, [ActionExecuted("action_listen"), UserUttered(f"hello from {sender}")]
    )
    asyncio.run(store.save(tracker))
    store.engine.dispose()


def found(data_dir: Path) -> dict[str, set[str]]:
    engine = sa.create_engine(clinic_url(data_dir))
    conversations = sa.create_engine(f"sqlite:///{data_dir / 'conversations.db'}")
    try:
        with engine.connect() as c, conversations.connect() as t:
            return {
                "bookings": {r[0] for r in c.execute(sa.text("SELECT reference FROM bookings"))},
                "escalations": {
                    r[0] for r in c.execute(sa.text("SELECT reference FROM escalations"))
                },
                "staff": {r[0] for r in c.execute(sa.text("SELECT login FROM staff_users"))},
                "conversations": {
                    r[0] for r in t.execute(sa.text("SELECT DISTINCT sender_id FROM events"))
                },
            }
    finally:
        engine.dispose()
        conversations.dispose()


def test_a_restored_backup_holds_every_record_and_nothing_later(data_dir: Path) -> None:
    add_records(data_dir, "A1")
    before = found(data_dir)
    made = backups.backup()
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in made.iterdir()} == {0o600}
    add_records(data_dir, "B2")  # after the backup
    (data_dir / "clinic.db").unlink()  # and then the disk loses a file
    storage._engines.pop(clinic_url(data_dir)).dispose()
    journal = data_dir / "conversations.db-journal"
    journal.write_bytes(b"left by a crash mid-write")  # must not be rolled into the restore
    assert backups.main(["restore", str(made)]) == 0
    assert not journal.exists()
    assert found(data_dir) == before
    assert before["bookings"] == {"BK-A1"} and before["conversations"] == {"conv-A1"}


def test_a_backup_is_consistent_while_the_database_is_written(data_dir: Path) -> None:
    add_records(data_dir, "C3")
    engine = sa.create_engine(clinic_url(data_dir))
    with engine.connect() as connection:  # an open reader does not stop the backup
        connection.execute(sa.text("SELECT COUNT(*) FROM bookings"))
        made = backups.backup()
    engine.dispose()
    rows = backups.checked_manifest(made)["databases"]["clinic"]["rows"]
    assert rows["bookings"] == rows["escalations"] == rows["staff_users"] == 1


def test_a_damaged_backup_restores_nothing(data_dir: Path) -> None:
    add_records(data_dir, "D4")
    made = backups.backup()
    with (made / "conversations.db").open("r+b") as handle:
        handle.seek(200)
        handle.write(b"\xff\xff\xff\xff")
    add_records(data_dir, "E5")
    before = found(data_dir)
    with pytest.raises(backups.BackupError, match="damaged"):
        backups.restore(made)
    assert found(data_dir) == before  # untouched
    assert backups.main(["restore", str(made)]) == 1
    with pytest.raises(backups.BackupError, match="not a backup"):
        backups.restore(data_dir)


def test_the_production_profile_is_told_how_to_use_pg_dump(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://clinic@db.example/clinic")
    assert backups.main(["backup"]) == 1
    assert "pg_dump" in capsys.readouterr().err
    assert not (data_dir / "backups").exists()


def test_nothing_to_back_up_is_said(data_dir: Path) -> None:
    with pytest.raises(backups.BackupError, match="does not exist"):
        backups.backup()
    assert backups.main(["backup"]) == 1


def test_a_restore_refuses_while_a_process_has_the_files_open(data_dir: Path) -> None:
    add_records(data_dir, "F6")
    made = backups.backup()
    add_records(data_dir, "G7")
    before = found(data_dir)
    # What a running Rasa server holds: its tracker store keeps its connections open.
    held = sqlite3.connect(data_dir / "conversations.db")
    held.execute("SELECT COUNT(*) FROM events").fetchone()
    try:
        with pytest.raises(backups.BackupError, match="stop the assistant first"):
            backups.restore(made)
        assert backups.main(["restore", str(made)]) == 1
        assert found(data_dir) == before  # untouched
    finally:
        held.close()
    assert backups.main(["restore", str(made)]) == 0
    assert found(data_dir)["bookings"] == {"BK-F6"}


def test_a_holder_whose_open_files_cannot_be_read_is_found_by_its_locks(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user's server: its /proc/<pid>/fd is closed to us, /proc/locks is not."""
    add_records(data_dir, "H8")
    held = sqlite3.connect(data_dir / "conversations.db")
    held.execute("PRAGMA journal_mode=WAL")
    held.execute("SELECT COUNT(*) FROM events").fetchone()
    real_stat = os.stat

    def unreadable_fds(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).startswith("/proc/"):
            raise PermissionError(path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", unreadable_fds)
    try:
        found = backups.holders([data_dir / "conversations.db"])
    finally:
        held.close()
    assert found == {os.getpid(): data_dir / "conversations.db"}
