"""Persistent user state in SQLite: likes/dislikes, and clips users added to the catalog.

One database file, ``data_dir()/recsys.sqlite3`` unless a path is given, in WAL mode (readers do
not block the writer, and a crash mid-write leaves the last committed state). Media bytes of
added clips live beside it in ``clips/`` under random names; the database keeps their path
relative to its own folder, never a name the user chose.

Feedback is scoped: one user (e.g. the app's ``profile:<token>``) rates items separately per
*scope*, a free string such as ``"persona:Night Owl"`` or ``"clip:<id>"`` (the app's scopes, see
``ui/state.py``); the default scope ``""`` is what callers that know no scopes use.

Schema versions: ``PRAGMA user_version`` holds how many entries of :data:`MIGRATIONS` have run;
opening a database runs the missing ones, each in one transaction. Append to the list, never
edit a released entry.

Durability: ``synchronous=FULL`` by default. In WAL mode, every committed transaction survives a
killed process with either FULL or NORMAL (the commit is in the WAL file before
``record_feedback`` returns; SQLite recovers it on the next open). Against a power cut or an OS
crash, NORMAL may lose the last transactions since the most recent checkpoint (the database stays
consistent); FULL fsyncs the WAL at every commit so they survive. Feedback arrives at the pace of
clicks, so one fsync per commit (a few ms) costs nothing a person notices; bulk writers may pass
``synchronous="NORMAL"``.

Thread safety: one connection shared by all threads (``check_same_thread=False``) and every call
holds a lock, so Streamlit's script threads can share one ``Store``. Other processes (the command
line) may open the same file; SQLite's file locks and a busy timeout serialise them.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from recsys.errors import ConfigError, MediaTooLargeError, RecsysError, UnknownIdError
from recsys.media.decode import DEFAULT_LIMITS, MEDIA_EXTENSIONS
from recsys.paths import data_dir

DB_NAME = "recsys.sqlite3"
CLIPS_DIR = "clips"

# Each entry: the statements that take the schema from version i to i + 1.
MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: feedback as an append-only event log (latest event per user and item wins), user clips
        """CREATE TABLE feedback (
               id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of arrival: the latest wins
               user_id    TEXT    NOT NULL,                   -- a user or a browser session id
               item_id    TEXT    NOT NULL,
               value      INTEGER NOT NULL CHECK (value IN (-1, 0, 1)),  -- +1 like, -1 dislike, 0 cleared
               created_at REAL    NOT NULL                    -- unix seconds
           )""",
        "CREATE INDEX feedback_user_item ON feedback (user_id, item_id, id)",
        """CREATE TABLE clips (
               clip_id    TEXT PRIMARY KEY,
               sha256     TEXT NOT NULL UNIQUE,                -- content hash: the same bytes are stored once
               title      TEXT NOT NULL,
               media_path TEXT NOT NULL,                       -- relative to the database's folder
               metadata   TEXT NOT NULL DEFAULT '{}',          -- JSON object
               added_at   REAL NOT NULL
           )""",
    ),
    (  # 2: feedback per scope (rows written before it get the default scope ''); the latest event
       # per (user, scope, item) wins, so the index that serves that lookup replaces version 1's.
        "ALTER TABLE feedback ADD COLUMN scope TEXT NOT NULL DEFAULT ''",
        "DROP INDEX feedback_user_item",
        "CREATE INDEX feedback_user_scope_item ON feedback (user_id, scope, item_id, id)",
    ),
]
MAX_SCOPE_CHARS = 300  # scopes are short labels ("persona:<name>", "clip:<16 hex>")
SCHEMA_VERSION = len(MIGRATIONS)


class Store:
    """SQLite-backed feedback and user clips.

    Parameters
    ----------
    path : the database file; default ``data_dir()/recsys.sqlite3``.
    clips_dir : where added clips' bytes go; default ``clips/`` beside the database.
    synchronous : "FULL" (default) or "NORMAL"; see the module docstring.
    timeout_s : how long a write waits for another process holding the write lock.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, clips_dir: str | os.PathLike | None = None,
                 synchronous: str = "FULL", timeout_s: float = 10.0):
        if synchronous.upper() not in ("FULL", "NORMAL"):
            raise ConfigError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        self.path = Path(path) if path is not None else data_dir() / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.root = self.path.parent.resolve()
        self.clips_dir = Path(clips_dir).resolve() if clips_dir is not None else self.root / CLIPS_DIR
        self._lock = threading.RLock()
        try:
            # isolation_level=None: no implicit transactions; each write below opens its own.
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                str(self.path), timeout=timeout_s, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as err:
            self._conn = None
            raise RecsysError(f"{self.path}: cannot open the database ({err})") from None

    # -- schema --------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise RecsysError(f"{self.path}: schema version {version} is newer than this code "
                                  f"({SCHEMA_VERSION}); update recsys")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                with self._transaction() as conn:
                    # Re-read inside the write lock: another process may have migrated meanwhile.
                    if conn.execute("PRAGMA user_version").fetchone()[0] >= target:
                        continue
                    for statement in MIGRATIONS[target - 1]:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {int(target)}")

    def schema_version(self) -> int:
        with self._lock:
            return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    # -- plumbing ------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RecsysError(f"{self.path}: the store is closed")
        return self._conn

    @contextmanager
    def _transaction(self):
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), holding the lock throughout."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:  # another process held the write lock past the timeout
                raise RecsysError(f"{self.path}: cannot write ({err})") from None
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (idempotent). Checkpoints the WAL into the database file."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.DatabaseError:
                    pass  # another process holds it open: it checkpoints later
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- feedback ------------------------------------------------------------------------------
    def record_feedback(self, user_id: str, item_id: str, value: int, *, scope: str = "") -> int:
        """Record +1 (like), -1 (dislike) or 0 (clear) of ``user_id`` for ``item_id`` in ``scope``.

        Returns the event's row id, committed when this returns. The latest event per
        (user, scope, item) is the one :meth:`feedback` reports.
        """
        _check_id("user_id", user_id)
        _check_id("item_id", item_id)
        _check_scope(scope)
        if isinstance(value, bool) or value not in (-1, 0, 1):
            raise ConfigError(f"feedback value must be +1, -1 or 0, got {value!r}")
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO feedback (user_id, scope, item_id, value, created_at) VALUES (?, ?, ?, ?, ?)",
                (user_id, scope, item_id, int(value), time.time()))
            return int(cur.lastrowid)

    def clear_scope(self, user_id: str, *, scope: str = "") -> int:
        """Clear (record 0 for) every item rated in ``scope``, in one transaction; returns how many."""
        _check_id("user_id", user_id)
        _check_scope(scope)
        with self._transaction() as conn:
            items = [item for item, value in self._latest_rows(conn, user_id, scope) if value != 0]
            now = time.time()
            conn.executemany(
                "INSERT INTO feedback (user_id, scope, item_id, value, created_at) VALUES (?, ?, ?, 0, ?)",
                [(user_id, scope, item, now) for item in items])
            return len(items)

    def feedback(self, user_id: str, *, scope: str = "") -> dict[str, int]:
        """{item_id: +1 or -1} in ``scope``: the latest non-zero value per item, most recent first."""
        return {item: value for item, value in self._latest(user_id, scope) if value != 0}

    def liked(self, user_id: str, *, scope: str = "") -> list[str]:
        """Item ids whose latest feedback from ``user_id`` in ``scope`` is a like, most recent first."""
        return [item for item, value in self._latest(user_id, scope) if value > 0]

    def disliked(self, user_id: str, *, scope: str = "") -> list[str]:
        """Item ids whose latest feedback from ``user_id`` in ``scope`` is a dislike, most recent first."""
        return [item for item, value in self._latest(user_id, scope) if value < 0]

    def feedback_scopes(self, user_id: str) -> dict[str, dict[str, int]]:
        """Every scope of ``user_id`` -> {item_id: +1 or -1}, items in the order their latest event
        arrived (oldest first, the order a session appended them). Scopes left with nothing
        (every item cleared) are absent."""
        _check_id("user_id", user_id)
        with self._lock:
            rows = self._connection().execute(
                """SELECT scope, item_id, value FROM feedback AS f
                   WHERE user_id = ? AND id = (SELECT MAX(id) FROM feedback
                                               WHERE user_id = f.user_id AND scope = f.scope
                                                     AND item_id = f.item_id)
                   ORDER BY id""", (user_id,)).fetchall()
        out: dict[str, dict[str, int]] = {}
        for scope, item, value in rows:
            if value != 0:
                out.setdefault(str(scope), {})[str(item)] = int(value)
        return out

    def _latest(self, user_id: str, scope: str) -> list[tuple[str, int]]:
        _check_id("user_id", user_id)
        _check_scope(scope)
        with self._lock:
            return self._latest_rows(self._connection(), user_id, scope)

    @staticmethod
    def _latest_rows(conn: sqlite3.Connection, user_id: str, scope: str) -> list[tuple[str, int]]:
        """(item_id, latest value) per item of one user and scope, most recent first."""
        rows = conn.execute(
            """SELECT item_id, value FROM feedback AS f
               WHERE user_id = ? AND scope = ? AND id = (SELECT MAX(id) FROM feedback
                                                        WHERE user_id = f.user_id AND scope = f.scope
                                                              AND item_id = f.item_id)
               ORDER BY id DESC""", (user_id, scope)).fetchall()
        return [(str(item), int(value)) for item, value in rows]

    # -- user clips ----------------------------------------------------------------------------
    def add_clip(self, data: bytes, *, title: str, metadata: dict | None = None, suffix: str = "",
                 max_bytes: int = DEFAULT_LIMITS.max_bytes) -> str:
        """Store an uploaded clip's bytes and its row; return its ``clip_id``.

        The bytes go to ``clips_dir`` under a random name (plus ``suffix``, one of the media
        extensions, if given) -- the user's file name is never used as a path. The same bytes
        added twice are stored once: the second call returns the first clip's id.
        """
        data = bytes(data)
        if not data:
            raise ConfigError("cannot add an empty clip (0 bytes)")
        if len(data) > max_bytes:
            raise MediaTooLargeError(f"clip is {len(data) / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit")
        suffix = suffix.lower()
        if suffix and suffix not in MEDIA_EXTENSIONS:
            raise ConfigError(f"suffix must be one of {sorted(MEDIA_EXTENSIONS)}, got {suffix!r}")
        if not isinstance(title, str):
            raise ConfigError(f"title must be a string, got {type(title).__name__}")
        try:
            meta_json = json.dumps(metadata or {}, ensure_ascii=False, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"clip metadata must be JSON-serialisable ({err})") from None
        if not meta_json.startswith("{"):
            raise ConfigError("clip metadata must be a dict")
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            existing = self._connection().execute("SELECT clip_id FROM clips WHERE sha256 = ?", (digest,)).fetchone()
            if existing:
                return str(existing[0])
            self.clips_dir.mkdir(parents=True, exist_ok=True)
            final = self.clips_dir / (secrets.token_hex(16) + suffix)
            _write_atomically(final, data)
            clip_id = "user-" + digest[:16]
            try:
                with self._transaction() as conn:
                    conn.execute("INSERT INTO clips (clip_id, sha256, title, media_path, metadata, added_at) "
                                 "VALUES (?, ?, ?, ?, ?, ?)",
                                 (clip_id, digest, title.strip(), self._relative(final), meta_json, time.time()))
            except sqlite3.IntegrityError:  # another process added the same bytes meanwhile
                final.unlink(missing_ok=True)
                row = self._connection().execute("SELECT clip_id FROM clips WHERE sha256 = ?", (digest,)).fetchone()
                if row is None:
                    raise
                return str(row[0])
            except BaseException:
                final.unlink(missing_ok=True)
                raise
            return clip_id

    def clip_with_content(self, data: bytes) -> dict | None:
        """The stored clip holding exactly these bytes (same keys as :meth:`clips`), or None."""
        digest = hashlib.sha256(bytes(data)).hexdigest()
        with self._lock:
            row = self._connection().execute("SELECT clip_id FROM clips WHERE sha256 = ?", (digest,)).fetchone()
        return self.clip(str(row[0])) if row else None

    def clips(self) -> list[dict]:
        """Every user clip, oldest first: clip_id, sha256, title, path (absolute), metadata, added_at."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT clip_id, sha256, title, media_path, metadata, added_at FROM clips "
                "ORDER BY added_at, rowid").fetchall()
        return [{"clip_id": cid, "sha256": sha, "title": title, "path": str(self._absolute(rel)),
                 "metadata": json.loads(meta), "added_at": added} for cid, sha, title, rel, meta, added in rows]

    def clips_stamp(self) -> str:
        """A short string that changes whenever a clip is added: ``"<count>:<last rowid>"``
        (``"0:0"`` when there is none). One indexed query, for cache keys."""
        with self._lock:
            count, last = self._connection().execute("SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM clips").fetchone()
        return f"{int(count)}:{int(last)}"

    def clip(self, clip_id: str) -> dict:
        """One user clip by id (same keys as :meth:`clips`)."""
        for row in self.clips():
            if row["clip_id"] == clip_id:
                return row
        raise UnknownIdError(f"unknown clip id {clip_id!r}")

    def _relative(self, path: Path) -> str:
        resolved = path.resolve()
        try:
            return resolved.relative_to(self.root).as_posix()
        except ValueError:  # a clips_dir outside the database's folder: keep it absolute
            return str(resolved)

    def _absolute(self, stored: str) -> Path:
        path = (self.root / stored).resolve()
        allowed = (self.root, self.clips_dir)
        if not any(path == base or base in path.parents for base in allowed):
            raise RecsysError(f"{self.path}: a clip path points outside the data folder ({stored!r})")
        return path


def _check_id(what: str, value) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be a non-empty string, got {value!r}")


def _check_scope(scope) -> None:
    if not isinstance(scope, str) or len(scope) > MAX_SCOPE_CHARS:
        raise ConfigError(f"scope must be a string of at most {MAX_SCOPE_CHARS} characters, got {scope!r:.80}")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a hidden temporary file in the same folder, fsync, then rename into place."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
