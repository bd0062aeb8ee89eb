"""`python -m core label init|status|import|export|propose`: labelling projects from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_USAGE = 2
PROG = "python -m core label"
DEFAULT_DB = "labels.albench.db"


def add_label_parser(subparsers) -> argparse.ArgumentParser:
    """Register `label` (with its own sub-commands) on the `python -m core` subparsers."""
    p = subparsers.add_parser(
        "label", help="labelling projects: a person as the oracle (init, status, import, export, propose)",
        description="A labelling project is one SQLite file: the images of a folder, class names, every decision "
                    "(label, skip, unsure, undo) with annotator and time, and the model rounds. The dashboard's "
                    "Label page labels with the keyboard; these commands create, inspect, import and export.")
    sub = p.add_subparsers(dest="label_command", required=True, parser_class=type(p))

    def db_option(q):
        q.add_argument("--db", metavar="FILE",
                       help=f"the project file (default: FOLDER/{DEFAULT_DB} for init, else ./{DEFAULT_DB})")

    init = sub.add_parser("init", help="create a project over a folder of images",
                          description="Create a project over FOLDER's images (any depth). Images in <class>/ "
                                      "sub-folders are imported with that label unless --no-class-folders.")
    init.add_argument("folder", metavar="FOLDER", help="the folder of images (the project root)")
    db_option(init)
    init.add_argument("--classes", metavar="A,B,...", default="",
                      help="class names, comma-separated (more are taken from class folders or a CSV; add later with "
                           "`label classes`)")
    init.add_argument("--labels", metavar="CSV", help="also import a path,label CSV (paths relative to the CSV)")
    init.add_argument("--no-class-folders", action="store_true",
                      help="sub-folders are not classes: import every image unlabelled")
    init.add_argument("--audit", type=int, default=0, metavar="N",
                      help="mark N random unlabelled images as the audit sample (labelled first, never trained on)")
    init.add_argument("--seed", type=int, default=0, help="seed of the audit draw (default 0)")

    status = sub.add_parser("status", help="items, labels per class, skip/unsure counts, time per label, rounds")
    db_option(status)
    status.add_argument("--json", action="store_true", help="print JSON")

    classes = sub.add_parser("classes", help="add class names to a project")
    classes.add_argument("names", metavar="A,B,...")
    db_option(classes)

    imp = sub.add_parser("import", help="import labels from a path,label CSV, or a folder (class sub-folders)")
    imp.add_argument("source", metavar="CSV|FOLDER")
    db_option(imp)
    imp.add_argument("--annotator", default="import", help="who the imported labels are recorded as (default import)")
    imp.add_argument("--override", action="store_true",
                     help="also replace decisions a person made and label items a tab is labelling now "
                          "(default: leave them and say how many were skipped)")

    exp = sub.add_parser("export", help="export the labels: csv (path,label), tree (root/<class>/), or jsonl",
                         description="csv: path,label, paths relative to the CSV (what `--dataset folder --data-dir "
                                     "FILE.csv` reads); tree: OUT/<class>/<file> as symlinks, or copies with --copy; "
                                     "jsonl: one decision per line with annotator and time.")
    exp.add_argument("format", choices=("csv", "tree", "jsonl"))
    exp.add_argument("out", metavar="OUT")
    db_option(exp)
    exp.add_argument("--copy", action="store_true", help="tree: copy the files instead of symlinking them")
    exp.add_argument("--force", action="store_true",
                     help="csv/jsonl: replace an existing file that is not an earlier export (never the project)")

    prop = sub.add_parser("propose", help="fit a learner on the labels and record the next batch a strategy proposes")
    db_option(prop)
    prop.add_argument("--strategy", default="entropy", help="any registered strategy (default entropy)")
    prop.add_argument("--learner", default="logistic", help="any registered learner (default logistic)")
    prop.add_argument("--strategy-param", action="append", default=[], metavar="PARAM=VALUE",
                      help="a setting of the strategy, repeatable (`python -m core strategies` lists them)")
    prop.add_argument("--learner-param", action="append", default=[], metavar="NAME=VALUE",
                      help="a setting of the learner, repeatable (`python -m core learners` lists them)")
    prop.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    prop.add_argument("--image-size", type=int, default=32, help="images are resized to this for the model (default 32)")
    return p


def _db(args: argparse.Namespace, folder: str | None = None) -> Path:
    if args.db:
        return Path(args.db)
    return Path(folder) / DEFAULT_DB if folder is not None else Path(DEFAULT_DB)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def cmd_label(args: argparse.Namespace) -> int:
    import sqlite3

    from core.datasets.base import DatasetError
    from core.labels.store import Conflict, ProjectError

    prog = getattr(args, "command_prog", PROG)  # the name the user typed (`albench label`), set by core.cli
    try:
        return _COMMANDS[args.label_command](args)
    except (ProjectError, Conflict, DatasetError, ValueError, sqlite3.Error) as exc:
        print(f"{prog} {args.label_command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a target of the wrong kind, a name too long, no permission, a full disk
        where = f" {exc.filename}" if exc.filename else ""
        print(f"{prog} {args.label_command}: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


def _init(args: argparse.Namespace) -> int:
    from core.labels.io import import_csv, import_folder
    from core.labels.store import LabelStore, ProjectError, check_class_names

    if args.audit < 0:
        raise ValueError(f"--audit must be >= 0; got {args.audit}")
    if not Path(args.folder).is_dir():
        raise ProjectError(f"image folder {args.folder} is not a directory")
    db = _db(args, args.folder)
    names = check_class_names(_names(args.classes))  # before anything is created
    store = LabelStore.create(db, args.folder)
    store.add_classes(names)
    report = import_folder(store, class_folders=not args.no_class_folders)
    if args.labels:
        from_csv = import_csv(store, args.labels)
        report["labels"] += from_csv["labels"]
        _say_skipped({**from_csv, "unreadable": []})
        report["unreadable"] += from_csv["unreadable"]
    audit = store.mark_audit(args.audit, args.seed) if args.audit else []
    if len(audit) < args.audit:
        print(f"warning: --audit {args.audit}: only {len(audit)} image(s) were undecided to draw the audit sample "
              "from (imported labels are not audited)", file=sys.stderr)
    print(f"created {db}: {report['items']} images, {report['labels']} labels, classes {store.classes or '(none yet)'}"
          + (f", audit sample of {len(audit)}" if audit else ""))
    if report["unreadable"]:
        print(f"warning: {len(report['unreadable'])} file(s) could not be read (e.g. {report['unreadable'][:3]})",
              file=sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    from core.labels.store import LabelStore

    store = LabelStore(_db(args))
    s = store.status()
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    rounds = store.rounds()
    print(f"{store.path}: {s['items']} images under {store.root}")
    print(f"  labelled {s['labeled']}, skipped {s['skipped']}, unsure {s['unsure']}, "
          f"undecided {s['items'] - s['labeled'] - s['skipped'] - s['unsure']}")
    print("  per class: " + (", ".join(f"{k} {v}" for k, v in s["per_class"].items()) or "(no classes)"))
    if s["per_annotator"]:
        print("  labels per annotator: " + ", ".join(f"{k} {v}" for k, v in s["per_annotator"].items()))
    if s["median_ms"] is not None:
        print(f"  median time per label: {s['median_ms'] / 1000:.1f} s")
    if s["audit"]:
        print(f"  audit sample: {s['audit_labeled']} of {s['audit']} labelled (kept out of training)")
    if rounds:
        last = rounds[-1]
        m = last["metrics"]
        acc = (f"audit accuracy {m['audit_accuracy']:.2f} [{m['audit_low']:.2f}, {m['audit_high']:.2f}]"
               if "audit_accuracy" in m else f"cross-validated accuracy {m['cv_accuracy']:.2f} (optimistic)"
               if "cv_accuracy" in m else m.get("note", ""))
        print(f"  {len(rounds)} model round(s); last: {last['strategy']} + {last['learner']} on {last['n_labeled']} "
              f"labels; {acc}")
    return 0


def _classes(args: argparse.Namespace) -> int:
    from core.labels.store import LabelStore

    print("classes: " + ", ".join(LabelStore(_db(args)).add_classes(_names(args.names))))
    return 0


def _import(args: argparse.Namespace) -> int:
    from core.labels.io import import_csv, import_folder
    from core.labels.store import LabelStore

    store = LabelStore(_db(args))
    source = Path(args.source)
    report = (import_folder(store, source, annotator=args.annotator, override=args.override) if source.is_dir()
              else import_csv(store, source, annotator=args.annotator, override=args.override))
    print(f"imported {report['items']} images, {report['labels']} new or changed labels into {store.path}")
    _say_skipped(report)
    return 0


def _say_skipped(report: dict) -> None:
    """What an import left alone, and why (stderr)."""
    if report["skipped_person"]:
        print(f"skipped {report['skipped_person']} item(s) a person already decided (--override replaces them)",
              file=sys.stderr)
    if report["skipped_claimed"]:
        print(f"skipped {report['skipped_claimed']} item(s) being labelled in a tab now (--override labels them)",
              file=sys.stderr)
    for line in report["conflicting"]:
        print(f"not imported, listed with different labels: {line}", file=sys.stderr)
    if report["unreadable"]:
        print(f"not imported, missing or unreadable: {len(report['unreadable'])} file(s), e.g. "
              f"{report['unreadable'][:3]}", file=sys.stderr)


def _export(args: argparse.Namespace) -> int:
    from core.labels.io import export_csv, export_jsonl, export_tree
    from core.labels.store import LabelStore

    store = LabelStore(_db(args))
    if args.format == "csv":
        n = export_csv(store, args.out, force=args.force)
    elif args.format == "tree":
        n = export_tree(store, args.out, copy=args.copy)
    else:
        n = export_jsonl(store, args.out, force=args.force)
    by = store.status()["per_annotator"]
    print(f"wrote {n} {'decisions' if args.format == 'jsonl' else 'labels'} to {args.out}"
          + (f" (labels per annotator: {', '.join(f'{k} {v}' for k, v in by.items())})" if by else ""))
    return 0


def _propose(args: argparse.Namespace) -> int:
    from core.labels.session import ImageCache, Settings, propose
    from core.labels.store import LabelStore

    store = LabelStore(_db(args))
    from core.engine.config import parse_param

    settings = Settings(strategy=args.strategy, learner=args.learner, batch_size=args.batch,
                        strategy_params=dict(parse_param(t, "--strategy-param") for t in args.strategy_param),
                        learner_params=dict(parse_param(t, "--learner-param") for t in args.learner_param))
    round_id = propose(store, settings, ImageCache(store.root, args.image_size))
    proposals = store.proposals(round_id)[: args.batch]
    names = store.classes
    print(f"round {round_id}: {store.rounds()[-1]['strategy']} proposes")
    for p in proposals:
        guess = f"{names[p['predicted']]} ({p['confidence']:.2f})" if p["predicted"] is not None else "no model yet"
        print(f"  {store.item_path(p['item_id'])}  {guess}")
    return 0


_COMMANDS = {"init": _init, "status": _status, "classes": _classes, "import": _import, "export": _export,
             "propose": _propose}
