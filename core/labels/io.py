"""Into and out of a labelling project: image folders, `path,label` CSVs, class trees, JSON lines.

Finding class folders and reading a labels CSV reuse `core.datasets.folder` (`list_folder`,
`list_labels_csv`), so a project imports exactly what `--dataset folder` would read, and the
CSV export is exactly what `--dataset folder --data-dir labels.csv` reads back.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from core.cache import file_sha256
from core.datasets.folder import IMAGE_EXTENSIONS, list_folder, list_labels_csv
from core.labels.store import LabelStore, ProjectError

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
    """Add the readable files as items; returns ({path: item id}, unreadable relative paths)."""
    pairs, unreadable = [], []
    for p in paths:
        try:
            pairs.append((_relative(store, p), file_sha256(p)))
        except OSError:  # missing, a broken link, no permission
            unreadable.append(str(p))
    store.add_items(pairs)
    ids = {r["path"]: r["id"] for r in store.items()}
    return {p: ids[_relative(store, p)] for p in paths if _relative(store, p) in ids}, unreadable


def _label_all(store: LabelStore, labelled: list[tuple[int, str]], annotator: str) -> int:
    """Label items whose decision in force differs from the imported one; returns how many changed."""
    current = store.current()
    changed = 0
    for item_id, label in labelled:
        event = current.get(item_id)
        if event is not None and event.kind == "label" and event.label == label:
            continue
        store.decide(item_id, "label", annotator=annotator, label=label, source="import")
        changed += 1
    return changed


def import_folder(store: LabelStore, folder: str | os.PathLike | None = None, *, class_folders: bool = True,
                  annotator: str = IMPORT_ANNOTATOR) -> dict:
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
    return {"items": len(ids), "labels": _label_all(store, labelled, annotator), "unreadable": unreadable}


def import_csv(store: LabelStore, csv_path: str | os.PathLike, *, annotator: str = IMPORT_ANNOTATOR) -> dict:
    """Add and label the files a `path,label` CSV lists (paths relative to the CSV's folder, inside the root)."""
    csv_path = Path(csv_path).expanduser()
    listing = list_labels_csv(csv_path)
    files = [csv_path.parent / rel for rel, _, _ in listing.files]
    ids, unreadable = _add_files(store, files)
    store.add_classes(listing.class_names)
    labelled = [(ids[f], listing.class_names[c]) for f, (_, c, _) in zip(files, listing.files) if f in ids]
    return {"items": len(ids), "labels": _label_all(store, labelled, annotator), "unreadable": unreadable}


def export_csv(store: LabelStore, out: str | os.PathLike) -> int:
    """`path,label` for every labelled item, paths relative to the CSV's folder; returns the rows written."""
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    labels = store.labels()
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label"])
        for rel, label in sorted(labels.items()):
            writer.writerow([Path(os.path.relpath(store.root / rel, out.parent.resolve())).as_posix(), label])
    os.replace(tmp, out)
    return len(labels)


def export_tree(store: LabelStore, out: str | os.PathLike, *, copy: bool = False) -> int:
    """`out/<class>/<file>` for every labelled item: symlinks (default) or copies; returns the files made.

    A file name is its path in the project with '/' as '__', so two `img.png` in different
    folders stay apart. `out` must not exist yet or be empty.
    """
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise ProjectError(f"export folder {out} is not empty; choose a new one")
    labels = store.labels()
    for rel, label in labels.items():
        target = out / label / rel.replace("/", "__")
        target.parent.mkdir(parents=True, exist_ok=True)
        source = store.root / rel
        if copy:
            shutil.copy2(source, target)
        else:
            target.symlink_to(source.resolve())
    return len(labels)


def export_jsonl(store: LabelStore, out: str | os.PathLike) -> int:
    """One JSON object per decided item: path, decision, label, annotator, ms, ISO time, audit; returns lines."""
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    audit = {r["id"] for r in store.items() if r["audit"]}
    current = store.current()
    with open(out, "w", encoding="utf-8") as f:
        for item_id, e in sorted(current.items(), key=lambda kv: kv[1].path):
            f.write(json.dumps({"path": e.path, "decision": e.kind, "label": e.label, "annotator": e.annotator,
                                "ms": e.ms, "time": datetime.fromtimestamp(e.at, timezone.utc).isoformat(),
                                "audit": item_id in audit}) + "\n")
    return len(current)
