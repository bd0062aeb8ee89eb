"""A labelling project: one SQLite database file (standard library `sqlite3`, WAL mode, no pickle).

What it holds:

- `items`: image paths relative to the project root (the root itself is stored relative to the
  database's folder, so a project folder can move), each with the sha256 of its content and an
  `audit` flag (the random audit sample: labelled first, never trained on);
- `classes`: class names in the order they were added (a class can be added at any time);
- `events`: every decision, append-only: `label` (with a class), `skip`, `unsure`, `undo`
  (naming the event it reverts), with the annotator, the time taken (ms) and a timestamp.
  An item's current state is its latest decision that no undo reverted;
- `claims`: a lease (annotator, token, expiry) per item handed out, so two annotators or two
  browser tabs never get the same item at once; an expired lease is free again;
- `rounds` and `proposals`: what each model round proposed, with its prediction and confidence.

Every decision is its own committed transaction (`synchronous=FULL`), so a `kill -9` at any
moment loses no decision whose call returned. Decisions are compare-and-set on the item's last
event id: labelling an item someone else decided in the meantime raises `Conflict`, never a
silent overwrite. A file that is not an albench project (not SQLite, corrupt, another
application's database) raises `ProjectError` naming the file, and is never written to.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

APPLICATION_ID = 0x616C6262  # "albb": PRAGMA application_id of every albench labelling project
SCHEMA_VERSION = 1
DEFAULT_CLAIM_SECONDS = 600.0  # a tab that goes away frees its items after this long
BUSY_TIMEOUT_MS = 10_000
DECISIONS = ("label", "skip", "unsure")
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE classes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, added REAL NOT NULL);
CREATE TABLE items (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL,
    audit INTEGER NOT NULL DEFAULT 0, added REAL NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL REFERENCES items(id),
    kind TEXT NOT NULL CHECK (kind IN ('label', 'skip', 'unsure', 'undo')),
    class_id INTEGER REFERENCES classes(id),
    undoes INTEGER REFERENCES events(id),
    annotator TEXT NOT NULL, ms INTEGER, at REAL NOT NULL, source TEXT NOT NULL DEFAULT 'person',
    CHECK ((kind = 'label') = (class_id IS NOT NULL)), CHECK ((kind = 'undo') = (undoes IS NOT NULL)));
CREATE INDEX events_item ON events(item_id, id);
CREATE INDEX events_annotator ON events(annotator, id);
CREATE UNIQUE INDEX events_undone ON events(undoes) WHERE undoes IS NOT NULL;
CREATE TABLE claims (
    item_id INTEGER PRIMARY KEY REFERENCES items(id), annotator TEXT NOT NULL, token TEXT NOT NULL,
    expires REAL NOT NULL, round_id INTEGER);
CREATE TABLE rounds (
    id INTEGER PRIMARY KEY, created REAL NOT NULL, strategy TEXT NOT NULL, learner TEXT NOT NULL,
    params TEXT NOT NULL, n_labeled INTEGER NOT NULL, metrics TEXT NOT NULL);
CREATE TABLE proposals (
    round_id INTEGER NOT NULL REFERENCES rounds(id), item_id INTEGER NOT NULL REFERENCES items(id),
    rank INTEGER NOT NULL, predicted INTEGER, confidence REAL, score REAL,
    PRIMARY KEY (round_id, item_id));
-- The decision in force per item: the latest label/skip/unsure that no undo reverted.
CREATE VIEW current AS
    SELECT e.* FROM events e
    WHERE e.kind != 'undo' AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.id)
      AND e.id = (SELECT MAX(f.id) FROM events f
                  WHERE f.item_id = e.item_id AND f.kind != 'undo'
                    AND NOT EXISTS (SELECT 1 FROM events v WHERE v.undoes = f.id));
"""


class ProjectError(ValueError):
    """A file that cannot be used as a labelling project; the message names the file."""


class Conflict(RuntimeError):
    """A decision refused because someone else decided or holds the item; the message says who."""


@dataclass(frozen=True)
class Claimed:
    """An item handed to one annotator: decide it with `expected=last_event` (compare-and-set)."""

    item_id: int
    path: str
    last_event: int  # the item's last event id when claimed (0: none)
    token: str
    round_id: int | None


@dataclass(frozen=True)
class Event:
    id: int
    item_id: int
    path: str
    kind: str
    label: str | None
    annotator: str
    ms: int | None
    at: float
    undoes: int | None


def check_class_names(names: Iterable[str]) -> list[str]:
    """Stripped class names; ValueError for an empty one or one that cannot be a folder name (tree export)."""
    clean = []
    for name in names:
        name = str(name).strip()
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"class name must be non-empty text without '/'; got {name!r}")
        clean.append(name)
    return clean


def _file_error(path: Path) -> None:
    """Raise ProjectError unless `path` starts like an SQLite database (and is not empty)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except IsADirectoryError:
        raise ProjectError(f"{path} is a directory, not a labelling project file") from None
    except OSError as exc:
        raise ProjectError(f"cannot read labelling project {path} ({exc.strerror or exc})") from None
    if head != _SQLITE_MAGIC:
        what = "an empty file" if not head else "not an SQLite database"
        raise ProjectError(f"{path} is {what}, not an albench labelling project; nothing was changed")


class LabelStore:
    """One labelling project. Cheap to share between threads: each thread gets its own connection.

    `LabelStore.create(db, root)` makes a new project (refusing an existing file);
    `LabelStore(db)` opens one and checks it is an albench project of a known schema.
    """

    def __init__(self, path: str | os.PathLike, *, _create_root: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser()
        self._local = threading.local()
        if _create_root is None:
            if not self.path.exists():
                raise ProjectError(f"no labelling project at {self.path}; create one with "
                                   f"`python -m core label init FOLDER --db {self.path}`")
            _file_error(self.path)
            self._check()
        else:
            self._initialise(Path(_create_root).expanduser())
        root = self.meta("root")
        self.root = (self.path.resolve().parent / root).resolve()

    # -- opening -------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, root: str | os.PathLike) -> "LabelStore":
        """A new, empty project over the images under `root`; an existing file is never overwritten."""
        p = Path(path).expanduser()
        if p.exists():
            raise ProjectError(f"{p} already exists; open it, or choose another --db path")
        if not Path(root).expanduser().is_dir():
            raise ProjectError(f"image folder {root} is not a directory")
        return cls(p, _create_root=root)

    def _connect(self, mode: str) -> sqlite3.Connection:
        uri = f"{self.path.resolve().as_uri()}?mode={mode}"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def _initialise(self, root: Path) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect("rwc")
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:  # created by a racing process
                conn.execute("ROLLBACK")
                raise ProjectError(f"{self.path} already exists; open it, or choose another --db path")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            rel = os.path.relpath(root.resolve(), self.path.resolve().parent)
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("schema_version", str(SCHEMA_VERSION)), ("root", rel), ("created", repr(time.time())),
                ("project_id", uuid.uuid4().hex)])
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _check(self) -> None:
        try:
            conn = self._connect("rw")
            try:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                if app_id != APPLICATION_ID:
                    raise ProjectError(f"{self.path} is an SQLite database but not an albench labelling project "
                                       f"(application_id {app_id:#x}); nothing was changed")
                problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
                if problems != ["ok"]:
                    raise ProjectError(f"labelling project {self.path} is corrupt ({'; '.join(problems)}); "
                                       "restore it from a copy or an export")
                version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
            raise ProjectError(f"labelling project {self.path} is corrupt or unreadable ({exc})") from None
        if version is None or not str(version[0]).isdigit():
            raise ProjectError(f"labelling project {self.path} has no schema version in its meta table")
        if int(version[0]) > SCHEMA_VERSION:
            raise ProjectError(f"labelling project {self.path} has schema version {version[0]}, newer than this "
                               f"albench reads ({SCHEMA_VERSION}); upgrade albench")

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect("rw")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a decision whose call returned survives a power cut too
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _write(self):
        return _Transaction(self.conn)

    # -- meta, classes, items ------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as c:
            c.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      (key, value))

    @property
    def classes(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM classes ORDER BY id")]

    def add_classes(self, names: Iterable[str]) -> list[str]:
        """Add the names not there yet (kept in order); returns every class name."""
        clean = check_class_names(names)
        with self._write() as c:
            for name in clean:
                c.execute("INSERT OR IGNORE INTO classes (name, added) VALUES (?, ?)", (name, time.time()))
        return self.classes

    def add_items(self, items: Iterable[tuple[str, str]]) -> int:
        """Add (relative path, sha256) pairs not there yet; returns how many were new."""
        now = time.time()
        with self._write() as c:
            before = c.execute("SELECT COUNT(*) FROM items").fetchone()[0]
            c.executemany("INSERT OR IGNORE INTO items (path, sha256, added) VALUES (?, ?, ?)",
                          ((p, h, now) for p, h in items))
            return c.execute("SELECT COUNT(*) FROM items").fetchone()[0] - before

    def items(self) -> list[sqlite3.Row]:
        """(id, path, sha256, audit) of every item, by id."""
        return self.conn.execute("SELECT id, path, sha256, audit FROM items ORDER BY id").fetchall()

    def item_id(self, path: str) -> int:
        row = self.conn.execute("SELECT id FROM items WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise KeyError(f"no item {path!r} in {self.path}")
        return row[0]

    def item_path(self, item_id: int) -> str:
        return self.conn.execute("SELECT path FROM items WHERE id = ?", (item_id,)).fetchone()[0]

    def mark_audit(self, n: int, seed: int = 0) -> list[int]:
        """Mark `n` random undecided items (seeded) as the audit sample; returns the ids marked."""
        import numpy as np

        with self._write() as c:
            free = [r[0] for r in c.execute(
                "SELECT id FROM items WHERE audit = 0 AND id NOT IN (SELECT item_id FROM current) ORDER BY id")]
            chosen = sorted(int(i) for i in np.random.default_rng(seed).permutation(free)[:n])
            c.executemany("UPDATE items SET audit = 1 WHERE id = ?", ((i,) for i in chosen))
        return chosen

    # -- decisions -----------------------------------------------------------------------------------------
    def last_event(self, item_id: int) -> int:
        row = self.conn.execute("SELECT MAX(id) FROM events WHERE item_id = ?", (item_id,)).fetchone()
        return row[0] or 0

    def decide(self, item_id: int, kind: str, *, annotator: str, label: str | None = None, ms: int | None = None,
               expected: int | None = None, session: str | None = None, source: str = "person") -> int:
        """Record one decision in its own transaction; returns its event id.

        `expected` is the item's last event id as the caller saw it (`Claimed.last_event`): when
        someone else decided the item since, or another annotator or tab (`session`: the claim's
        token) holds a live claim on it, `Conflict` is raised and nothing is written. None skips the
        check (imports).
        """
        if kind not in DECISIONS:
            raise ValueError(f"kind must be one of {DECISIONS}; got {kind!r}")
        if (kind == "label") != (label is not None):
            raise ValueError("a label decision needs a class, and only a label decision has one")
        with self._write() as c:
            class_id = None
            if label is not None:
                row = c.execute("SELECT id FROM classes WHERE name = ?", (label,)).fetchone()
                if row is None:
                    raise ValueError(f"unknown class {label!r}; choose one of {self.classes} or add it")
                class_id = row[0]
            if expected is not None:
                self._check_cas(c, item_id, annotator, expected, session)
            cur = c.execute("INSERT INTO events (item_id, kind, class_id, annotator, ms, at, source) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (item_id, kind, class_id, annotator, ms, time.time(), source))
            c.execute("DELETE FROM claims WHERE item_id = ?", (item_id,))
            return cur.lastrowid

    def _check_cas(self, c: sqlite3.Connection, item_id: int, annotator: str, expected: int,
                   session: str | None) -> None:
        last = c.execute("SELECT id, annotator, kind FROM events WHERE item_id = ? ORDER BY id DESC LIMIT 1",
                         (item_id,)).fetchone()
        if (last[0] if last else 0) != expected:
            raise Conflict(f"{self.item_path(item_id)} was changed by {last['annotator']!r} ({last['kind']}) "
                           "since you were shown it; its current decision is kept")
        holder = c.execute("SELECT annotator FROM claims WHERE item_id = ? AND expires > ? "
                           "AND NOT (annotator = ? AND (? IS NULL OR token = ?))",
                           (item_id, time.time(), annotator, session, session)).fetchone()
        if holder is not None:
            where = "in another tab" if holder[0] == annotator else f"by {holder[0]!r}"
            raise Conflict(f"{self.item_path(item_id)} is being labelled {where}")

    def undo(self, annotator: str, *, ms: int | None = None, session: str | None = None) -> Event | None:
        """Revert `annotator`'s latest decision still in force; returns the reverted event (None: nothing to undo).

        Refused with Conflict when someone else decided that item after it.
        """
        with self._write() as c:
            row = c.execute(
                "SELECT e.id, e.item_id FROM events e WHERE e.annotator = ? AND e.kind != 'undo' "
                "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.id) ORDER BY e.id DESC LIMIT 1",
                (annotator,)).fetchone()
            if row is None:
                return None
            later = c.execute("SELECT annotator FROM events WHERE item_id = ? AND id > ? AND annotator != ? LIMIT 1",
                              (row[1], row[0], annotator)).fetchone()
            if later is not None:
                raise Conflict(f"{self.item_path(row[1])} was decided by {later[0]!r} after you; not undone")
            c.execute("INSERT INTO events (item_id, kind, undoes, annotator, ms, at) VALUES (?, 'undo', ?, ?, ?, ?)",
                      (row[1], row[0], annotator, ms, time.time()))
            # the item goes back to the annotator's batch, unless another tab holds it
            now = time.time()
            c.execute("INSERT INTO claims VALUES (?, ?, ?, ?, NULL) ON CONFLICT(item_id) DO UPDATE SET "
                      "annotator = excluded.annotator, token = excluded.token, expires = excluded.expires "
                      "WHERE claims.expires <= ? OR claims.token = excluded.token",
                      (row[1], annotator, session or uuid.uuid4().hex, now + DEFAULT_CLAIM_SECONDS, now))
        return self.event(row[0])

    def event(self, event_id: int) -> Event:
        r = self.conn.execute(
            "SELECT e.id, e.item_id, i.path, e.kind, c.name, e.annotator, e.ms, e.at, e.undoes FROM events e "
            "JOIN items i ON i.id = e.item_id LEFT JOIN classes c ON c.id = e.class_id WHERE e.id = ?",
            (event_id,)).fetchone()
        return Event(*r)

    def events(self) -> list[Event]:
        """Every event, oldest first (the append-only log)."""
        rows = self.conn.execute(
            "SELECT e.id, e.item_id, i.path, e.kind, c.name, e.annotator, e.ms, e.at, e.undoes FROM events e "
            "JOIN items i ON i.id = e.item_id LEFT JOIN classes c ON c.id = e.class_id ORDER BY e.id").fetchall()
        return [Event(*r) for r in rows]

    def current(self) -> dict[int, Event]:
        """item id -> the decision in force (label, skip or unsure), for every decided item."""
        rows = self.conn.execute(
            "SELECT e.id, e.item_id, i.path, e.kind, c.name, e.annotator, e.ms, e.at, e.undoes FROM current e "
            "JOIN items i ON i.id = e.item_id LEFT JOIN classes c ON c.id = e.class_id").fetchall()
        return {r[1]: Event(*r) for r in rows}

    def labels(self) -> dict[str, str]:
        """relative path -> class, for every item whose decision in force is a label."""
        return {e.path: e.label for e in self.current().values() if e.kind == "label"}

    def recent(self, annotator: str, n: int = 10) -> list[Event]:
        """`annotator`'s last `n` decisions still in force, newest first: what stays editable."""
        rows = self.conn.execute(
            "SELECT e.id, e.item_id, i.path, e.kind, c.name, e.annotator, e.ms, e.at, e.undoes FROM current e "
            "JOIN items i ON i.id = e.item_id LEFT JOIN classes c ON c.id = e.class_id "
            "WHERE e.annotator = ? ORDER BY e.id DESC LIMIT ?", (annotator, n)).fetchall()
        return [Event(*r) for r in rows]

    # -- claims --------------------------------------------------------------------------------------------
    def claim(self, annotator: str, n: int, *, seconds: float = DEFAULT_CLAIM_SECONDS,
              candidates: Sequence[int] | None = None, round_id: int | None = None,
              session: str | None = None) -> list[Claimed]:
        """Lease up to `n` undecided items to `annotator` in `session` (a tab), in one transaction.

        Items come from `candidates` in order (e.g. a round's proposals), else undecided audit
        items first, then the rest by id. Items held by a live claim of another annotator or
        another session (the same person's second tab) are passed over; this session's own live
        claims are returned first (a reload with the same session gets them back). Without a
        session, each call is a session of its own.
        """
        now = time.time()
        token = session or uuid.uuid4().hex
        with self._write() as c:
            c.execute("DELETE FROM claims WHERE expires <= ?", (now,))
            mine = [r[0] for r in c.execute(
                "SELECT item_id FROM claims WHERE annotator = ? AND token = ? "
                "AND item_id NOT IN (SELECT item_id FROM current) ORDER BY rowid", (annotator, token))]
            taken = {r[0] for r in c.execute("SELECT item_id FROM claims")}  # live ones: expired were deleted
            decided = {r[0] for r in c.execute("SELECT item_id FROM current")}
            if candidates is None:
                candidates = [r[0] for r in c.execute("SELECT id FROM items ORDER BY audit DESC, id")]
            chosen = mine[:n]
            for item in candidates:
                if len(chosen) >= n:
                    break
                if item not in taken and item not in decided:
                    chosen.append(int(item))
                    taken.add(item)
            c.executemany("INSERT INTO claims VALUES (?, ?, ?, ?, ?) ON CONFLICT(item_id) DO UPDATE SET "
                          "token = excluded.token, expires = excluded.expires",
                          ((i, annotator, token, now + seconds, round_id) for i in chosen))
            out = []
            for i in chosen:
                last = c.execute("SELECT MAX(id), (SELECT path FROM items WHERE id = ?) FROM events WHERE item_id = ?",
                                 (i, i)).fetchone()
                out.append(Claimed(i, last[1], last[0] or 0, token, round_id))
        return out

    def release(self, annotator: str, session: str | None = None) -> None:
        """Give back `annotator`'s claims (of one session, or all)."""
        with self._write() as c:
            c.execute("DELETE FROM claims WHERE annotator = ? AND (? IS NULL OR token = ?)", (annotator, session, session))

    # -- model rounds --------------------------------------------------------------------------------------
    def record_round(self, *, strategy: str, learner: str, params: dict, n_labeled: int, metrics: dict,
                     proposals: Sequence[tuple[int, int | None, float | None, float | None]]) -> int:
        """Store a model round and its proposals: (item id, predicted class index, confidence, score), best first."""
        with self._write() as c:
            cur = c.execute("INSERT INTO rounds (created, strategy, learner, params, n_labeled, metrics) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (time.time(), strategy, learner, json.dumps(params),
                                                           n_labeled, json.dumps(metrics)))
            round_id = cur.lastrowid
            c.executemany("INSERT INTO proposals VALUES (?, ?, ?, ?, ?, ?)",
                          ((round_id, int(i), rank, None if p is None else int(p), None if q is None else float(q),
                            None if s is None else float(s)) for rank, (i, p, q, s) in enumerate(proposals)))
        return round_id

    def rounds(self) -> list[dict]:
        rows = self.conn.execute("SELECT * FROM rounds ORDER BY id").fetchall()
        return [{**dict(r), "params": json.loads(r["params"]), "metrics": json.loads(r["metrics"])} for r in rows]

    def proposals(self, round_id: int) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM proposals WHERE round_id = ? ORDER BY rank", (round_id,)).fetchall()

    # -- summaries -----------------------------------------------------------------------------------------
    def status(self) -> dict:
        """Counts for `label status` and the page: items, decisions by kind, labels per class, time per label."""
        current = self.current()
        per_class = {name: 0 for name in self.classes}
        kinds = {k: 0 for k in DECISIONS}
        for e in current.values():
            kinds[e.kind] += 1
            if e.kind == "label":
                per_class[e.label] += 1
        ms = [e.ms for e in current.values() if e.kind == "label" and e.ms is not None]
        audit = {r[0] for r in self.conn.execute("SELECT id FROM items WHERE audit = 1")}
        return {"items": self.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0],
                "labeled": kinds["label"], "skipped": kinds["skip"], "unsure": kinds["unsure"],
                "per_class": per_class, "median_ms": (sorted(ms)[len(ms) // 2] if ms else None),
                "audit": len(audit), "audit_labeled": sum(1 for i, e in current.items() if i in audit and e.kind == "label"),
                "rounds": self.conn.execute("SELECT COUNT(*) FROM rounds").fetchone()[0]}


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT` (ROLLBACK on an exception): one writer at a time, no lost update."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
