"""recsys.catalog.store: SQLite feedback and user clips -- round trips, schema versions, threads, and a
writer killed with SIGKILL mid-stream losing nothing it reported as committed."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from recsys.errors import ConfigError, MediaTooLargeError, RecsysError, UnknownIdError
from recsys.catalog.store import DB_NAME, MIGRATIONS, SCHEMA_VERSION, Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db" / "test.sqlite3")
    yield s
    s.close()


def test_default_location_is_data_dir_in_wal_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "data"))
    with Store() as s:
        assert s.path == tmp_path / "data" / DB_NAME and s.path.is_file()
        assert s.clips_dir == (tmp_path / "data" / "clips").resolve()
        conn = s._connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with Store(tmp_path / "n.sqlite3", synchronous="normal") as s:
        assert s._connection().execute("PRAGMA synchronous").fetchone()[0] == 1
    with pytest.raises(ConfigError):
        Store(tmp_path / "x.sqlite3", synchronous="OFF")


def test_schema_version_is_set_and_migrations_run_once(tmp_path):
    path = tmp_path / "s.sqlite3"
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == len(MIGRATIONS) >= 1
        tables = {r[0] for r in s._connection().execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"feedback", "clips"} <= tables
        s.record_feedback("u", "a", 1)
    with Store(path) as s:  # reopening runs nothing again and keeps the rows
        assert s.schema_version() == SCHEMA_VERSION and s.feedback("u") == {"a": 1}
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RecsysError, match="newer than this code"):
        Store(path)


def test_a_file_that_is_not_a_database_is_a_typed_error(tmp_path):
    bad = tmp_path / "junk.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RecsysError, match="cannot open the database"):
        Store(bad)


def test_feedback_round_trip_per_user(store):
    assert store.record_feedback("alice", "rain", 1) >= 1
    store.record_feedback("alice", "jazz", -1)
    store.record_feedback("bob", "rain", -1)
    store.record_feedback("alice", "birds", 1)
    assert store.feedback("alice") == {"rain": 1, "jazz": -1, "birds": 1}
    assert store.liked("alice") == ["birds", "rain"], "most recent first"
    assert store.disliked("alice") == ["jazz"]
    assert store.feedback("bob") == {"rain": -1} and store.liked("bob") == []
    assert store.feedback("nobody") == {} and store.liked("nobody") == [] and store.disliked("nobody") == []


def test_latest_value_per_user_and_item_wins(store):
    ids = [store.record_feedback("s1", "clip", v) for v in (1, -1, 1, -1)]
    assert ids == sorted(ids) and len(set(ids)) == 4, "event ids grow with every write"
    assert store.feedback("s1") == {"clip": -1} and store.disliked("s1") == ["clip"]
    store.record_feedback("s1", "clip", 1)
    assert store.liked("s1") == ["clip"] and store.disliked("s1") == []
    store.record_feedback("s1", "clip", 0)  # cleared: neither liked nor disliked
    assert store.feedback("s1") == {} and store.liked("s1") == []


@pytest.mark.parametrize("user,item,value", [
    ("u", "i", 2), ("u", "i", True), ("u", "i", "1"), ("", "i", 1), ("u", "  ", 1), (None, "i", 1), ("u", 5, 1),
])
def test_bad_feedback_is_a_config_error(store, user, item, value):
    with pytest.raises(ConfigError):
        store.record_feedback(user, item, value)
    assert store._connection().execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0


def test_reopen_after_close_keeps_data_and_closed_store_refuses(tmp_path):
    path = tmp_path / "r.sqlite3"
    s = Store(path)
    s.record_feedback("u", "x", 1)
    cid = s.add_clip(b"\x00clip bytes" * 10, title="Mine", metadata={"kind": "audio"})
    s.close()
    s.close()  # idempotent
    with pytest.raises(RecsysError, match="closed"):
        s.feedback("u")
    with Store(path) as again:
        assert again.feedback("u") == {"x": 1}
        assert [c["clip_id"] for c in again.clips()] == [cid]
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0, \
        "close() checkpoints the WAL into the database"


def test_add_clip_stores_bytes_under_a_random_name_inside_the_data_folder(store):
    data = os.urandom(5000)
    cid = store.add_clip(data, title="  a;rm -rf $(id) ../../etc/passwd.wav ", metadata={"kind": "audio", "n": 1},
                         suffix=".wav")
    clip = store.clip(cid)
    path = Path(clip["path"])
    assert path.read_bytes() == data and path.suffix == ".wav"
    assert path.parent == store.clips_dir and store.root in path.parents
    assert len(path.stem) == 32 and "passwd" not in path.name and "rm" not in path.name
    assert clip["title"] == "a;rm -rf $(id) ../../etc/passwd.wav", "the title is kept as text, never a path"
    assert clip["metadata"] == {"kind": "audio", "n": 1} and len(clip["sha256"]) == 64
    # The same bytes again: the same id, one file.
    assert store.add_clip(data, title="again", metadata={}) == cid
    assert len(store.clips()) == 1 and len(list(store.clips_dir.iterdir())) == 1
    cid2 = store.add_clip(b"other bytes", title="Two", metadata=None)
    assert [c["clip_id"] for c in store.clips()] == [cid, cid2]
    with pytest.raises(UnknownIdError):
        store.clip("user-nope")


def test_add_clip_refusals_leave_no_file(store):
    with pytest.raises(ConfigError):
        store.add_clip(b"", title="empty", metadata={})
    with pytest.raises(MediaTooLargeError):
        store.add_clip(b"x" * 2000, title="big", metadata={}, max_bytes=1000)
    with pytest.raises(ConfigError):
        store.add_clip(b"abc", title="t", metadata={"f": object()})
    with pytest.raises(ConfigError):
        store.add_clip(b"abc", title="t", metadata={"x": float("nan")})
    with pytest.raises(ConfigError):
        store.add_clip(b"abc", title="t", metadata={}, suffix="/../../x.sh")
    assert store.clips() == []
    assert not store.clips_dir.exists() or list(store.clips_dir.iterdir()) == []


def test_threads_share_one_store(store):
    n_threads, per_thread = 8, 40
    ids: list[int] = []
    errors: list[BaseException] = []

    def work(t):
        try:
            for i in range(per_thread):
                ids.append(store.record_feedback(f"user-{t}", f"item-{i}", 1 if i % 2 else -1))
                store.feedback(f"user-{t}")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(set(ids)) == n_threads * per_thread
    for t in range(n_threads):
        assert len(store.feedback(f"user-{t}")) == per_thread and len(store.liked(f"user-{t}")) == per_thread // 2


# --- SIGKILL mid-stream --------------------------------------------------------------------------

WRITER = r"""
import sys
from recsys.catalog.store import Store
store = Store(sys.argv[2], synchronous=sys.argv[3])
i = int(sys.argv[4])
while True:
    row = store.record_feedback(f"user-{i % 7}", f"item-{i % 101}", 1 if i % 3 else -1)
    print(f"feedback {row}", flush=True)  # printed only once the commit has returned
    if i % 25 == 0:
        cid = store.add_clip(f"clip {i}".encode() * 50, title=f"clip {i}", metadata={"i": i}, suffix=".wav")
        print(f"clip {cid}", flush=True)
    i += 1
"""


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_killed_writer_loses_no_committed_row(tmp_path, synchronous):
    path = tmp_path / "kill.sqlite3"
    reported_rows: set[int] = set()
    reported_clips: set[str] = set()
    rounds, start = 3, 0
    for round_ in range(rounds):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(ROOT), str(path), synchronous, str(start)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        got = 0
        deadline = time.monotonic() + 60
        while got < 150 + 50 * round_ and time.monotonic() < deadline:  # kill at a different point each round
            line = proc.stdout.readline()
            if not line:
                break
            kind, value = line.split()
            if kind == "feedback":
                reported_rows.add(int(value))
                got += 1
            else:
                reported_clips.add(value)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: the writer is in its loop, likely mid-commit
        rest, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        for line in rest.splitlines():  # lines flushed before the kill were committed too
            kind, value = line.split()
            (reported_rows.add(int(value)) if kind == "feedback" else reported_clips.add(value))
        assert got >= 150, f"writer produced only {got} rows: {err[-500:]}"
        start += 10_000

        conn = sqlite3.connect(path)  # recovery from the WAL happens here, independently of Store
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        present = {r[0] for r in conn.execute("SELECT id FROM feedback")}
        missing = reported_rows - present
        assert not missing, f"round {round_}: {len(missing)} committed rows lost, e.g. {sorted(missing)[:5]}"
        clip_rows = dict(conn.execute("SELECT clip_id, media_path FROM clips").fetchall())
        assert reported_clips <= set(clip_rows), "every reported clip is in the table"
        for rel in clip_rows.values():
            assert (tmp_path / rel).is_file(), "a clip row never points at a missing file"
        conn.close()
    with Store(path) as s:  # and the Store itself opens the recovered file and keeps writing
        assert s.schema_version() == SCHEMA_VERSION
        s.record_feedback("after", "kill", 1)
        assert s.liked("after") == ["kill"]
    print(f"\nkill test ({synchronous}): {rounds} SIGKILLs, {len(reported_rows)} reported rows all present, "
          f"{len(reported_clips)} clips")


def test_two_processes_write_the_same_file(tmp_path):
    """The CLI and the app may hold the database at once: the busy timeout serialises them."""
    path = tmp_path / "two.sqlite3"
    Store(path).close()
    code = ("import sys; from recsys.catalog.store import Store; "
            "s = Store(sys.argv[2]); [s.record_feedback(sys.argv[3], f'i{k}', 1) for k in range(100)]; s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(path), f"p{n}"], stderr=subprocess.PIPE,
                              text=True) for n in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with Store(path) as s:
        assert all(len(s.liked(f"p{n}")) == 100 for n in range(3))
        assert json.loads(json.dumps(s.feedback("p0")))["i0"] == 1


# --- schema version 2: feedback per scope ----------------------------------------------------------

def _v1_database(path: Path) -> None:
    """A database exactly as version 1 of the schema left it, with rows, written without Store."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.executemany("INSERT INTO feedback (user_id, item_id, value, created_at) VALUES (?, ?, ?, ?)",
                     [("alice", "rain", 1, 1.0), ("alice", "jazz", -1, 2.0), ("bob", "rain", 1, 3.0),
                      ("alice", "rain", -1, 4.0)])
    conn.execute("INSERT INTO clips (clip_id, sha256, title, media_path, metadata, added_at) "
                 "VALUES ('user-0', ?, 'Old clip', 'clips/0.wav', '{}', 5.0)", ("0" * 64,))
    conn.close()


def test_a_version_1_database_is_migrated_to_version_2_keeping_its_rows(tmp_path):
    path = tmp_path / "v1.sqlite3"
    _v1_database(path)
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "0.wav").write_bytes(b"old")
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION >= 2
        conn = s._connection()
        columns = [r[1] for r in conn.execute("PRAGMA table_info(feedback)")]
        assert "scope" in columns
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "feedback_user_scope_item" in indexes and "feedback_user_item" not in indexes
        assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 4
        assert {r[0] for r in conn.execute("SELECT scope FROM feedback")} == {""}
        # Rows from version 1 read back in the default scope, latest event winning as before.
        assert s.feedback("alice") == {"rain": -1, "jazz": -1} and s.liked("bob") == ["rain"]
        assert [c["clip_id"] for c in s.clips()] == ["user-0"] and s.clip("user-0")["title"] == "Old clip"
        s.record_feedback("alice", "rain", 1, scope="persona:X")
        assert s.feedback("alice", scope="persona:X") == {"rain": 1}
        assert s.feedback("alice") == {"rain": -1, "jazz": -1}, "a new scope leaves the old rows alone"
    with Store(path) as s:  # reopening runs migration 2 only once
        assert s.schema_version() == SCHEMA_VERSION and s.feedback("alice", scope="persona:X") == {"rain": 1}


def test_the_migration_plan_only_appends():
    assert len(MIGRATIONS) >= 2
    assert any("CREATE TABLE feedback" in st for st in MIGRATIONS[0]), "entry 1 is the original schema"
    assert not any("scope" in st for st in MIGRATIONS[0]), "entry 1 is never edited"
    assert any("ADD COLUMN scope" in st for st in MIGRATIONS[1])


def test_feedback_scopes_are_independent(store):
    store.record_feedback("p1", "a", 1, scope="persona:Nature Lover")
    store.record_feedback("p1", "a", -1, scope="clip:0123")
    store.record_feedback("p1", "b", 1, scope="persona:Nature Lover")
    store.record_feedback("p1", "c", -1, scope="persona:Nature Lover")
    store.record_feedback("p2", "z", 1, scope="persona:Nature Lover")
    store.record_feedback("p1", "a", 1)  # default scope
    assert store.feedback("p1", scope="persona:Nature Lover") == {"c": -1, "b": 1, "a": 1}
    assert store.liked("p1", scope="persona:Nature Lover") == ["b", "a"], "most recent first"
    assert store.disliked("p1", scope="clip:0123") == ["a"]
    assert store.feedback("p1") == {"a": 1}
    assert store.feedback("p1", scope="persona:Other") == {}
    assert store.feedback_scopes("p1") == {"persona:Nature Lover": {"a": 1, "b": 1, "c": -1}, "clip:0123": {"a": -1},
                                           "": {"a": 1}}
    assert list(store.feedback_scopes("p1")["persona:Nature Lover"]) == ["a", "b", "c"], "oldest first"
    assert store.feedback_scopes("p2") == {"persona:Nature Lover": {"z": 1}}, "one user never sees another's"
    assert store.feedback_scopes("nobody") == {}
    # Re-rating moves an item to the end; clearing drops it; a scope with nothing left disappears.
    store.record_feedback("p1", "a", -1, scope="persona:Nature Lover")
    store.record_feedback("p1", "a", 0, scope="clip:0123")
    scopes = store.feedback_scopes("p1")
    assert list(scopes["persona:Nature Lover"].items()) == [("b", 1), ("c", -1), ("a", -1)]
    assert "clip:0123" not in scopes


def test_clear_scope_clears_only_that_scope_in_one_transaction(store):
    for item in ("a", "b", "c"):
        store.record_feedback("u", item, 1, scope="s1")
    store.record_feedback("u", "a", 1, scope="s2")
    store.record_feedback("v", "a", 1, scope="s1")
    before = store._connection().execute("SELECT MAX(id) FROM feedback").fetchone()[0]
    assert store.clear_scope("u", scope="s1") == 3
    assert store.feedback("u", scope="s1") == {} and store.feedback("u", scope="s2") == {"a": 1}
    assert store.feedback("v", scope="s1") == {"a": 1}
    assert store._connection().execute("SELECT MAX(id) FROM feedback").fetchone()[0] == before + 3
    assert store.clear_scope("u", scope="s1") == 0, "nothing left to clear"


@pytest.mark.parametrize("scope", [None, 3, "x" * 301, b"persona:x"])
def test_bad_scope_is_a_config_error(store, scope):
    with pytest.raises(ConfigError):
        store.record_feedback("u", "i", 1, scope=scope)
    with pytest.raises(ConfigError):
        store.feedback("u", scope=scope)
    assert store._connection().execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0


def test_clips_stamp_changes_when_a_clip_is_added(store):
    assert store.clips_stamp() == "0:0"
    store.add_clip(b"one", title="One", metadata={})
    first = store.clips_stamp()
    assert first.startswith("1:")
    store.add_clip(b"one", title="again", metadata={})  # the same bytes: nothing added
    assert store.clips_stamp() == first
    store.add_clip(b"two", title="Two", metadata={})
    assert store.clips_stamp() != first and store.clips_stamp().startswith("2:")


def test_a_write_blocked_past_the_timeout_is_a_typed_error(tmp_path):
    path = tmp_path / "busy.sqlite3"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with Store(path, timeout_s=0.2) as s:
            with pytest.raises(RecsysError, match="cannot write"):
                s.record_feedback("u", "i", 1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
