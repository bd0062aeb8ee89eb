"""A labelling project: one SQLite database file (standard library `sqlite3`, WAL mode, no pickle).

What it holds:

- `items`: image paths relative to the project root (the root itself is stored relative to the
  database's folder, so a project folder can move), each with the sha256 of its content and an
  `audit` flag (the random audit sample: labelled first, never trained on);
- `classes`: class names in the order they were added (a class can be added at any time);
- `events`: every decision, append-only: `label` (with a class), `skip`, `unsure`, `undo`
  (naming the event it reverts), with the annotator, the tab (`session`) that made it, the time
  taken (ms) and a timestamp. Undo reverts what one tab did, never another tab's decision.
  An item's current state is its latest decision that no undo reverted;
- `claims`: a lease (annotator, token, expiry) per item handed out, so two annotators or two
  browser tabs never get the same item at once; an expired lease is free again;
- `rounds` and `proposals`: what each model round proposed, with its prediction and confidence.

Every decision is its own committed transaction (`synchronous=FULL`), so a `kill -9` at any
moment loses no decision whose call returned. Decisions are compare-and-set on the item's last
event id: labelling an item someone else decided in the meantime raises `Conflict`, never a
silent overwrite. A file that is not an albench project (not SQLite, corrupt, another
application's database) raises `ProjectError` naming the file, and is never written to.

A project file can come from someone else, so opening one checks it is exactly what this module
builds: the same tables, columns, indexes and views, no trigger (SQL stored in a file would run
on every decision), a `root` that is a folder other than `/`, and clean rows (class names that are
folder names, item paths that stay inside the root, integer times). Every read of an image goes
through `LabelStore.file`, which resolves symlinks and refuses a path outside the root.
"""

from __future__ import annotations

import functools
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
SCHEMA_VERSION = 2
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
# Schema version -> the statements that bring a project of the version before up to it. A new project
# runs them too, so every project of one version has the same `sqlite_master` (what `_check` compares).
_MIGRATIONS = {2: ["ALTER TABLE events ADD COLUMN session TEXT"]}
MAX_NAME_BYTES = 255  # the longest file or folder name on common file systems (a class is a folder on export)


def _expected_master(version: int) -> set[tuple]:
    """The `sqlite_master` rows (type, name, table, sql) of a project of schema `version`."""
    conn = sqlite3.connect(":memory:")
    try:
        _build(conn, version)
        return set(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    finally:
        conn.close()


def _build(conn: sqlite3.Connection, version: int) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    for v in range(2, version + 1):
        for statement in _MIGRATIONS[v]:
            conn.execute(statement)


class ProjectError(ValueError):
    """A file that cannot be used as a labelling project; the message (one line) names the file."""

    def __init__(self, message: str) -> None:
        # the message can quote a damaged file (SQLite echoes its schema text): keep it on one line
        super().__init__(" ".join(str(message).split()))


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
        if (not name or "/" in name or "\x00" in name or name in (".", "..")
                or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES):
            raise ValueError(f"class name must be non-empty text without '/' or NUL, not '.' or '..', "
                             f"at most {MAX_NAME_BYTES} bytes; got {name[:80]!r}")
        clean.append(name)
    return clean


_BAD_PARTS = frozenset({"", ".", ".."})


@functools.cache
def _image_extensions() -> tuple[str, ...]:
    from core.datasets.folder import IMAGE_EXTENSIONS  # imported late: it loads Pillow and numpy

    return tuple(IMAGE_EXTENSIONS)


def check_item_path(rel: object) -> str:
    """`rel` when it is a relative POSIX path of an image that stays inside its root (no '..', no absolute
    path); ProjectError otherwise. The file may still be a symlink out of the root: `LabelStore.file` checks that."""
    if not isinstance(rel, str) or not rel or "\x00" in rel or rel.startswith("/") \
            or not _BAD_PARTS.isdisjoint(rel.split("/")):
        raise ProjectError(f"item path {str(rel)[:120]!r} is not a plain path inside the project's image folder")
    if not rel.lower().endswith(_image_extensions()):  # items are images: never a key file under a wide root
        raise ProjectError(f"item path {rel[:120]!r} is not an image file ({', '.join(_image_extensions())})")
    return rel


def inside(root: Path, rel: str) -> Path:
    """The file `root/rel` with symlinks resolved; ProjectError when `rel` is malformed or leads out of `root`
    to anything but an image file.

    A symlink to an image elsewhere is kept working (`label export tree` makes exactly such
    links, and a project over them must read them); a link to any other file, or a path that
    climbs out, is refused, so a project file or folder from elsewhere cannot read, say, a key file.
    """
    path = (root / check_item_path(rel)).resolve()
    if not path.is_relative_to(root) and not path.name.lower().endswith(_image_extensions()):
        raise ProjectError(f"item {rel!r} leads outside the project's image folder {root} (to {path})")
    return path


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
        try:
            self.root = self._root()
        except sqlite3.DatabaseError as exc:  # damage quick_check did not reach
            raise ProjectError(f"labelling project {self.path} is corrupt or unreadable ({exc})") from None

    def _root(self) -> Path:
        """The image folder: a directory other than the file system's root (which would open every file)."""
        rel = self.meta("root")
        if not isinstance(rel, str) or not rel or "\x00" in rel:
            raise ProjectError(f"labelling project {self.path} names no image folder (meta 'root'); "
                               "it was not made by albench")
        root = (self.path.resolve().parent / rel).resolve()
        if root == Path(root.anchor):
            raise ProjectError(f"labelling project {self.path} names the file system root {root} as its image "
                               "folder; refused (it would expose every file)")
        return root

    def file(self, rel: str) -> Path:
        """The image file of item `rel`, symlinks resolved, refused (ProjectError) outside the root."""
        return inside(self.root, rel)

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
            _build(conn, SCHEMA_VERSION)
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
        """Refuse (ProjectError, one line, the file untouched) anything but an albench project of a known
        schema; bring an older schema up to date."""
        try:
            conn = self._connect("rw")
            conn.row_factory = None  # plain tuples: reading every row to check it costs half as much
            try:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                if app_id != APPLICATION_ID:
                    raise ProjectError(f"{self.path} is an SQLite database but not an albench labelling project "
                                       f"(application_id {app_id:#x}); nothing was changed")
                problems = [" ".join(str(r[0]).split()) for r in conn.execute("PRAGMA quick_check(5)")]  # one line
                if problems != ["ok"]:
                    raise ProjectError(f"labelling project {self.path} is corrupt ({'; '.join(problems)}); "
                                       "restore it from a copy or an export")
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
                    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() \
                    else None
                if row is None or not str(row[0]).isdigit() or int(row[0]) < 1:
                    raise ProjectError(f"labelling project {self.path} has no schema version in its meta table")
                version = int(row[0])
                if version > SCHEMA_VERSION:
                    raise ProjectError(f"labelling project {self.path} has schema version {version}, newer than "
                                       f"this albench reads ({SCHEMA_VERSION}); upgrade albench")
                self._check_schema(conn, version)
                self._check_rows(conn, version)
                if version < SCHEMA_VERSION:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        for v in range(version + 1, SCHEMA_VERSION + 1):
                            for statement in _MIGRATIONS[v]:
                                conn.execute(statement)
                        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
            raise ProjectError(f"labelling project {self.path} is corrupt or unreadable ({exc})") from None
        except UnicodeDecodeError as exc:  # text that is not UTF-8: damage, or not written by SQLite's text API
            raise ProjectError(f"labelling project {self.path} holds text that is not UTF-8 ({exc.reason} at "
                               f"byte {exc.start}); refused") from None

    def _check_schema(self, conn: sqlite3.Connection, version: int) -> None:
        """The tables, columns, indexes and views must be exactly ours, with no trigger: SQL stored in a
        project file someone sent would otherwise run on every decision."""
        found = {tuple(r) for r in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")}
        expected = _expected_master(version)
        if found != expected:
            extra = sorted(f"{t} {n!r}" for t, n, _, _ in found - expected)
            missing = sorted(f"{t} {n!r}" for t, n, _, _ in expected - found)
            raise ProjectError(
                f"labelling project {self.path} does not have albench's schema (version {version}): "
                + "; ".join(filter(None, [f"not ours: {', '.join(extra[:5])}" if extra else "",
                                          f"missing or changed: {', '.join(missing[:5])}" if missing else ""]))
                + "; refused, nothing was changed")

    def _check_rows(self, conn: sqlite3.Connection, version: int) -> None:
        """Values a hand-edited file could hold that the code below would trip on: one line naming the first."""
        checks = [
            ("SELECT key FROM meta WHERE key IN ('root', 'schema_version') AND typeof(value) != 'text'",
             "meta {!r} is not text"),
            ("SELECT id FROM events WHERE typeof(ms) NOT IN ('integer', 'null') OR ms < 0",
             "event {} has a time taken (ms) that is not a whole number of milliseconds"),
            ("SELECT id FROM events WHERE typeof(at) NOT IN ('real', 'integer') OR at < 0 OR at > 1e11",
             "event {} has no valid timestamp"),
            ("SELECT id FROM events WHERE typeof(annotator) != 'text'", "event {} has no annotator name"),
            ("SELECT id FROM items WHERE typeof(path) != 'text' OR typeof(sha256) != 'text'",
             "item {} has a path or checksum that is not text"),
            ("SELECT id FROM classes WHERE typeof(name) != 'text'", "class {} has a name that is not text"),
            ("SELECT id FROM rounds WHERE NOT json_valid(params) OR NOT json_valid(metrics) "
             "OR json_type(params) != 'object' OR json_type(metrics) != 'object'",
             "model round {} has settings or metrics that are not a JSON object"),
        ]
        broken = conn.execute("PRAGMA foreign_key_check").fetchone()  # e.g. an event of a deleted class
        if broken is not None:
            raise ProjectError(f"labelling project {self.path}: a row of {broken[0]!r} refers to a missing row of "
                               f"{broken[2]!r}; refused")
        for query, message in checks:
            row = conn.execute(query + " LIMIT 1").fetchone()
            if row is not None:
                raise ProjectError(f"labelling project {self.path}: {message.format(row[0])}; refused")
        # every text value must decode (else UnicodeDecodeError, refused by the caller): the small tables whole,
        # the large ones by their text columns
        for query in ("SELECT * FROM meta", "SELECT * FROM claims", "SELECT * FROM rounds",
                      f"SELECT annotator, source{', session' if version >= 2 else ''} FROM events", "SELECT path, sha256 FROM items"):
            conn.execute(query).fetchall()
        for (name,) in conn.execute("SELECT name FROM classes"):
            try:
                check_class_names([name])
            except ValueError as exc:
                raise ProjectError(f"labelling project {self.path}: {exc}; refused") from None
        # SQL picks the paths that may be bad (fast on 100k items); check_item_path says why
        ends = " OR ".join(f"lower(path) LIKE '%{ext}'" for ext in _image_extensions())
        suspects = ("SELECT path FROM items WHERE path = '' OR path LIKE '/%' OR instr(path, char(0)) > 0 "
                    "OR ('/' || path || '/') LIKE '%/./%' OR ('/' || path || '/') LIKE '%/../%' "
                    f"OR path LIKE '%//%' OR NOT ({ends})")
        for (path,) in conn.execute(suspects):
            try:
                check_item_path(path)
            except ProjectError as exc:
                raise ProjectError(f"labelling project {self.path}: {exc}; refused") from None

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
        check (imports). `session` is recorded with the decision: undo in that tab reverts it.
        """
        with self._write() as c:
            return self._insert(c, item_id, kind, annotator=annotator, label=label, ms=ms, expected=expected,
                                session=session, source=source)

    def decide_many(self, decisions: Sequence[tuple[int, str]], *, annotator: str, source: str = "import") -> int:
        """Label (item id, class) pairs in one transaction (one fsync for an import of thousands)."""
        with self._write() as c:
            for item_id, label in decisions:
                self._insert(c, item_id, "label", annotator=annotator, label=label, source=source)
        return len(decisions)

    def _insert(self, c: sqlite3.Connection, item_id: int, kind: str, *, annotator: str, label: str | None = None,
                ms: int | None = None, expected: int | None = None, session: str | None = None,
                source: str = "person") -> int:
        if kind not in DECISIONS:
            raise ValueError(f"kind must be one of {DECISIONS}; got {kind!r}")
        if (kind == "label") != (label is not None):
            raise ValueError("a label decision needs a class, and only a label decision has one")
        if label is not None and not isinstance(label, str):
            raise ValueError(f"a label is a class name; got {type(label).__name__} {label!r:.60}")
        if isinstance(item_id, bool) or not isinstance(item_id, int) or not 0 < item_id < 2 ** 63 or \
                c.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is None:
            raise ValueError(f"no item {item_id!r:.60} in {self.path}")
        ms = _check_ms(ms)
        class_id = None
        if label is not None:
            row = c.execute("SELECT id FROM classes WHERE name = ?", (label,)).fetchone()
            if row is None:
                raise ValueError(f"unknown class {label!r}; choose one of {self.classes} or add it")
            class_id = row[0]
        if expected is not None:
            self._check_cas(c, item_id, annotator, expected, session)
        cur = c.execute("INSERT INTO events (item_id, kind, class_id, annotator, ms, at, source, session) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (item_id, kind, class_id, annotator, ms, time.time(), source, session))
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
        """Revert the latest decision still in force that this tab (`session`) made, or without a session,
        that `annotator` made; returns the reverted event (None: nothing to undo).

        Keyed on the tab because two people (or two tabs) may type the same annotator name: a
        Backspace in one tab never reverts another tab's label. Refused with Conflict when someone
        else decided that item after it.
        """
        ms = _check_ms(ms)
        with self._write() as c:
            # with a session: this tab's decisions under this name (a tab token pasted in a link to someone
            # with another name still never undoes their decisions); without: the annotator's
            mine = "e.annotator = ? AND (? IS NULL OR e.session = ?)"
            row = c.execute(
                f"SELECT e.id, e.item_id FROM events e WHERE {mine} AND e.kind != 'undo' "
                "AND NOT EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.id) ORDER BY e.id DESC LIMIT 1",
                (annotator, session, session)).fetchone()
            if row is None:
                return None
            later = c.execute(f"SELECT annotator FROM events e WHERE item_id = ? AND id > ? AND NOT ({mine}) LIMIT 1",
                              (row[1], row[0], annotator, session, session)).fetchone()
            if later is not None:
                raise Conflict(f"{self.item_path(row[1])} was decided by {later[0]!r} after you; not undone")
            c.execute("INSERT INTO events (item_id, kind, undoes, annotator, ms, at, session) "
                      "VALUES (?, 'undo', ?, ?, ?, ?, ?)", (row[1], row[0], annotator, ms, time.time(), session))
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

    def release_items(self, item_ids: Iterable[int], session: str) -> None:
        """Give back this tab's claims on `item_ids` (images it cannot show), so they are not held for nothing."""
        with self._write() as c:
            c.executemany("DELETE FROM claims WHERE item_id = ? AND token = ?", ((int(i), session) for i in item_ids))

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
        per_annotator: dict[str, int] = {}
        kinds = {k: 0 for k in DECISIONS}
        for e in current.values():
            kinds[e.kind] += 1
            if e.kind == "label":
                per_class[e.label] += 1
                per_annotator[e.annotator] = per_annotator.get(e.annotator, 0) + 1
        ms = [e.ms for e in current.values() if e.kind == "label" and e.ms is not None]
        audit = {r[0] for r in self.conn.execute("SELECT id FROM items WHERE audit = 1")}
        return {"items": self.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0],
                "labeled": kinds["label"], "skipped": kinds["skip"], "unsure": kinds["unsure"],
                "per_class": per_class, "per_annotator": dict(sorted(per_annotator.items())),
                "median_ms": (sorted(ms)[len(ms) // 2] if ms else None),
                "audit": len(audit), "audit_labeled": sum(1 for i, e in current.items() if i in audit and e.kind == "label"),
                "rounds": self.conn.execute("SELECT COUNT(*) FROM rounds").fetchone()[0]}


def _check_ms(ms: object) -> int | None:
    """Milliseconds spent on a decision: a whole number >= 0 (a float from the browser is rounded), or None."""
    if ms is None:
        return None
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not 0 <= ms < 1e12:
        raise ValueError(f"ms (time taken) must be a number of milliseconds in [0, 1e12); got {ms!r:.60}")
    return int(round(ms))


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT` (ROLLBACK on an exception): one writer at a time, no lost update."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
