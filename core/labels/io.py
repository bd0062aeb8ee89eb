"""Into and out of a labelling project: image folders, `path,label` CSVs, class trees, JSON lines.

Finding class folders and reading a labels CSV reuse `core.datasets.folder` (`list_folder`,
`list_labels_csv`), so a project imports exactly what `--dataset folder` would read, and the
CSV export is exactly what `--dataset folder --data-dir labels.csv` reads back (fields a
spreadsheet would run as formulas are neutralised with `core.csvsafe`, which the reader undoes).

Nothing here acts outside the folders named: every item is read through `LabelStore.file`
(inside the root, symlinks resolved), a tree export writes only under OUT with checked class
folder names, and an export never overwrites the project or a file that is not an earlier export
of the same kind (unless `force`); it is written to a temporary file and renamed.
An import never replaces a person's decision nor labels an item a tab holds, unless `override`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from core.files import atomic_write_bytes, file_sha256
from core.csvsafe import neutralise, restore
from core.datasets.folder import IMAGE_EXTENSIONS, list_folder, list_labels_csv
from core.labels.store import MAX_NAME_BYTES, LabelStore, ProjectError, check_class_names, inside

IMPORT_ANNOTATOR = "import"


def find_images(folder: Path) -> list[Path]:
    """Every image file under `folder` (any depth), sorted; hidden folders and files are left out."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in sorted(filenames)
                  if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)]
    return found


def _relative(store: LabelStore, path: Path) -> str:
    """`path` relative to the project root (POSIX separators); ProjectError when it lies outside."""
    path = Path(path)
    rel = os.path.relpath(path.parent.resolve() / path.name, store.root)  # a symlinked image stays itself
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        raise ProjectError(f"{path} lies outside the project's image folder {store.root}")
    return Path(rel).as_posix()


def _add_files(store: LabelStore, paths: list[Path]) -> tuple[dict[Path, int], list[str]]:
    """Add the readable files inside the root as items; returns ({path: item id}, unreadable paths)."""
    pairs, unreadable, rels = [], [], {}
    for p in paths:
        rel = _relative(store, p)  # a file outside the root: ProjectError, as before anything is added
        try:
            pairs.append((rel, file_sha256(inside(store.root, rel))))
        except (OSError, ProjectError):  # missing, a broken link, no permission, a link out of the root
            unreadable.append(str(p))
        else:
            rels[p] = rel
    store.add_items(pairs)
    ids = {r["path"]: r["id"] for r in store.items()}
    return {p: ids[rel] for p, rel in rels.items() if rel in ids}, unreadable


def _label_all(store: LabelStore, labelled: list[tuple[int, str]], annotator: str, override: bool) -> dict:
    """Label items whose decision in force differs from the imported one, in one transaction.

    Without `override`, an item a person decided (label, skip or unsure) or a tab holds a live claim
    on is left alone and counted. Returns {"labels": changed, "skipped_person": n, "skipped_claimed": n}.
    """
    current = store.current()
    by_person = {r[0] for r in store.conn.execute("SELECT item_id FROM current WHERE source = 'person'")}
    claimed = {r[0] for r in store.conn.execute("SELECT item_id FROM claims WHERE expires > ?", (time.time(),))}
    todo, person, held = [], 0, 0
    for item_id, label in labelled:
        event = current.get(item_id)
        if event is not None and event.kind == "label" and event.label == label:
            continue
        if not override and item_id in by_person:
            person += 1
        elif not override and item_id in claimed:
            held += 1
        else:
            todo.append((item_id, label))
    store.decide_many(todo, annotator=annotator, source="import")
    return {"labels": len(todo), "skipped_person": person, "skipped_claimed": held}


def import_folder(store: LabelStore, folder: str | os.PathLike | None = None, *, class_folders: bool = True,
                  annotator: str = IMPORT_ANNOTATOR, override: bool = False) -> dict:
    """Add every image under `folder` (default: the project root); with `class_folders`, images in
    `<class>/` sub-folders (the `--dataset folder` layout) are labelled with that class."""
    folder = Path(folder).expanduser() if folder is not None else store.root
    if not folder.is_dir():
        raise ProjectError(f"image folder {folder} is not a directory")
    images = find_images(folder)
    ids, unreadable = _add_files(store, images)
    labelled: list[tuple[int, str]] = []
    if class_folders:
        listing = list_folder(folder)
        store.add_classes(listing.class_names)
        for rel, class_index, _ in listing.files:
            item = ids.get(folder / rel)
            if item is not None:
                labelled.append((item, listing.class_names[class_index]))
    return {"items": len(ids), **_label_all(store, labelled, annotator, override), "unreadable": unreadable,
            "conflicting": []}


def _csv_lines(csv_path: Path, paths: set[str]) -> dict[str, list[int]]:
    """Line numbers of the rows of a labels CSV (already read by `list_labels_csv`) that list `paths`."""
    text = csv_path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    column = header.index("path")
    lines: dict[str, list[int]] = {}
    for row in reader:
        rel = restore(row[column].strip()) if column < len(row) else ""
        if rel in paths:
            lines.setdefault(rel, []).append(reader.line_num)
    return lines


def import_csv(store: LabelStore, csv_path: str | os.PathLike, *, annotator: str = IMPORT_ANNOTATOR,
               override: bool = False) -> dict:
    """Add and label the files a `path,label` CSV lists (paths relative to the CSV's folder, inside the root).

    A path listed twice with different labels is not imported (neither row wins); `conflicting`
    names it with its line numbers. Listed files that are missing or unreadable are in `unreadable`.
    """
    csv_path = Path(csv_path).expanduser()
    listing = list_labels_csv(csv_path)
    names = listing.class_names
    seen: dict[str, set[str]] = {}
    for rel, c, _ in listing.files:
        seen.setdefault(rel, set()).add(names[c])
    clashing = {rel for rel, labels in seen.items() if len(labels) > 1}
    conflicting = [f"{rel}: labels {sorted(seen[rel])} on lines {lines}"
                   for rel, lines in sorted(_csv_lines(csv_path, clashing).items())] if clashing else []
    rows = {rel: names[c] for rel, c, _ in listing.files if rel not in clashing}
    files = {csv_path.parent / rel: label for rel, label in rows.items()}
    ids, unreadable = _add_files(store, list(files))
    store.add_classes(sorted(set(rows.values())))
    labelled = [(ids[f], label) for f, label in files.items() if f in ids]
    return {"items": len(ids), **_label_all(store, labelled, annotator, override), "unreadable": unreadable,
            "conflicting": conflicting}


def _check_target(store: LabelStore, out: Path, is_export) -> None:
    """Refuse to write onto the project (ever) or onto an existing file that `is_export` says is not an
    earlier export of the same kind; ProjectError names the file."""
    project = store.path.resolve()
    if out.resolve() in {project, *(project.with_name(project.name + s) for s in ("-wal", "-shm", "-journal"))}:
        raise ProjectError(f"{out} is the labelling project itself; choose another file for the export")
    if out.is_dir():
        raise ProjectError(f"{out} is a folder; name a file to write the export to")
    if len(out.name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise ProjectError(f"export file name {out.name[:60]!r}... is over {MAX_NAME_BYTES} bytes")
    if out.exists() and not is_export(out):
        raise ProjectError(f"{out} exists and is not an earlier export of this kind; choose a new file, "
                           "or pass --force to replace it")


def _head(path: Path, n: int = 4096) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def _is_csv_export(path: Path) -> bool:
    return _head(path).removeprefix(b"\xef\xbb\xbf").splitlines()[:1] == [b"path,label"]


def _is_jsonl_export(path: Path) -> bool:
    head = _head(path)
    if not head:
        return path.is_file() and path.stat().st_size == 0  # an export of a project with no decision
    try:
        first = json.loads(head.splitlines()[0])
    except ValueError:
        return False
    return isinstance(first, dict) and {"path", "decision", "annotator"} <= set(first)


def _write(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, text.encode("utf-8"))


def export_csv(store: LabelStore, out: str | os.PathLike, *, force: bool = False) -> int:
    """`path,label` for every labelled item, paths relative to the CSV's folder; returns the rows written."""
    out = Path(out).expanduser()
    _check_target(store, out, lambda p: force or _is_csv_export(p))
    labels = store.labels()
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["path", "label"])
    base = out.parent.resolve()
    for rel, label in sorted(labels.items()):
        path = Path(os.path.relpath(store.file(rel), base)).as_posix()
        writer.writerow([neutralise(path), neutralise(label)])
    _write(out, buf.getvalue())
    return len(labels)


def _tree_names(labels: dict[str, str]) -> dict[str, str]:
    """relative path -> file name in its class folder: the path with '/' as '__', made distinct.

    `x/a.png` and `x__a.png` (or two long paths cut to the same 255 bytes) would meet; the later
    one (by path) gets `~2`, `~3`, ... before its extension, so every labelled item gets a file.
    """
    names: dict[str, str] = {}
    used: set[tuple[str, str]] = set()
    for rel in sorted(labels):
        flat = rel.replace("/", "__")
        stem, ext = os.path.splitext(flat)
        name, n = flat, 1
        while True:
            if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
                suffix = (f"~{n}" if n > 1 else "~1") + ext
                room = MAX_NAME_BYTES - len(suffix.encode("utf-8", "surrogateescape"))
                name = stem.encode("utf-8", "surrogateescape")[:room].decode("utf-8", "ignore") + suffix
            if (labels[rel], name) not in used:
                break
            n += 1
            name = f"{stem}~{n}{ext}"
        used.add((labels[rel], name))
        names[rel] = name
    return names


def export_tree(store: LabelStore, out: str | os.PathLike, *, copy: bool = False) -> int:
    """`out/<class>/<file>` for every labelled item: symlinks (default) or copies; returns the files made.

    A file name is its path in the project with '/' as '__' (made distinct where two would meet), so
    two `img.png` in different folders stay apart. `out` must not exist yet or be an empty folder.
    Class names and item paths are checked again here: a project file from elsewhere never makes
    this write outside `out` or copy a file from outside the project's image folder.
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ProjectError(f"export folder {out} is a file; name a new folder")
    if out.is_dir() and any(out.iterdir()):
        raise ProjectError(f"export folder {out} is not empty; choose a new one")
    labels = store.labels()
    check_class_names(set(labels.values()))
    sources = {rel: store.file(rel) for rel in labels}  # every item checked before anything is written
    names = _tree_names(labels)
    for rel, label in labels.items():
        target = out / label / names[rel]
        target.parent.mkdir(parents=True, exist_ok=True)
        if copy:
            shutil.copy2(sources[rel], target)
        else:
            target.symlink_to(sources[rel])
    return len(labels)


def export_jsonl(store: LabelStore, out: str | os.PathLike, *, force: bool = False) -> int:
    """One JSON object per decided item: path, decision, label, annotator, ms, ISO time, audit; returns lines."""
    out = Path(out).expanduser()
    _check_target(store, out, lambda p: force or _is_jsonl_export(p))
    audit = {r["id"] for r in store.items() if r["audit"]}
    current = store.current()
    lines = [json.dumps({"path": e.path, "decision": e.kind, "label": e.label, "annotator": e.annotator,
                         "ms": e.ms, "time": datetime.fromtimestamp(e.at, timezone.utc).isoformat(),
                         "audit": item_id in audit}) + "\n"
             for item_id, e in sorted(current.items(), key=lambda kv: kv[1].path)]
    _write(out, "".join(lines))
    return len(current)
