"""Label: a person as the oracle. Open or create a project, label the proposed batch with the keyboard."""

from __future__ import annotations

import os
import shlex
import uuid
from pathlib import Path

import streamlit as st

from core.engine.cache import Cache
from core.labels.cli import DEFAULT_DB
from core.labels.io import export_csv, import_folder
from core.labels.recommend import comparison_command, recommend
from core.labels.store import LabelStore, ProjectError, check_class_names
from core.learners import LEARNERS
from core.strategies import STRATEGIES
from dashboard.components.access import allowed_path, allowed_project, refuse_outside_roots
from dashboard.components.labeling import (apply_events, batch_done, compare_panel, drop_unviewable, label_grid,
                                           maybe_refit, new_batch, progress_figures, proposer_for, settings_json,
                                           stop_panel)
from dashboard.components.results import cache_root


# The open project and the annotator's name live in the URL too: a reload, a second tab or a restarted
# server reopens the same project for the same person (the name is asked once per browser session, not
# taken from the server's login, which every visitor would share).
st.session_state.setdefault("label_db", st.query_params.get("project") or os.environ.get("ALBENCH_LABEL_DB", ""))
st.session_state.setdefault("label_annotator", st.query_params.get("annotator", ""))
st.session_state.setdefault("label_learner", "logistic")
st.session_state.setdefault("label_batch_size", 8)
st.session_state.setdefault("label_columns", 4)

# This tab's claim token, kept in the URL: a reload gets its batch back, a second tab gets other images.
if not st.query_params.get("tab"):
    st.query_params["tab"] = uuid.uuid4().hex[:12]
tab = st.query_params["tab"]

st.title("Label")
st.caption("Label your own images with the strategy the comparison picked; the model refits in the background "
           "after each batch. Every decision is saved the moment it is made.")


def _create_project() -> None:
    with st.expander("New project", expanded=not st.session_state.label_db):
        folder = st.text_input("Image folder", key="label_new_folder",
                               help="images at any depth; images in <class>/ sub-folders are imported with that label")
        classes = st.text_input("Class names, comma-separated", key="label_new_classes",
                                help="more can be added later; class folders add theirs")
        audit = st.number_input("Audit sample (images)", min_value=0, max_value=10_000, value=0, step=5,
                                key="label_new_audit",
                                help="random images you label first, never trained on: accuracy is measured on them")
        class_folders = st.checkbox("Sub-folders are classes", value=True, key="label_new_class_folders")
        if st.button("Create project", key="label_create"):
            if not folder.strip():
                st.error("Enter the folder of images first.")
                return
            db = Path(folder).expanduser() / DEFAULT_DB
            try:
                allowed_project(db)  # a served dashboard: under its --data-root, and the labeller's projects
                names = check_class_names(n for n in classes.split(",") if n.strip())
                store = LabelStore.create(db, Path(folder).expanduser())
                store.add_classes(names)
                report = import_folder(store, class_folders=class_folders)
                if audit:
                    store.mark_audit(int(audit))
            except (ProjectError, ValueError, OSError) as exc:
                st.error(str(exc))
                return
            st.session_state.label_db = str(db)
            st.query_params["project"] = str(db)
            st.session_state.pop("label_batch", None)
            st.success(f"Created {db}: {report['items']} images, {report['labels']} labels.")


_create_project()
refuse_outside_roots("label_db", project=True)  # a served dashboard: its roots and the labeller's projects
st.text_input("Project file", key="label_db", help=f"a labelling project ({DEFAULT_DB}); create one above")
if not st.session_state.label_db:
    st.query_params.pop("project", None)
    st.info("Create a project from a folder of images, or enter the path of an existing project file.")
    st.stop()
try:
    store = LabelStore(st.session_state.label_db)
except ProjectError as exc:
    st.error(str(exc))
    st.stop()
st.query_params["project"] = st.session_state.label_db

# The strategy starts as the verdict of a finished comparison on this folder, else entropy (said below).
recommendation_key = f"label_recommendation::{store.path}"
if recommendation_key not in st.session_state:
    st.session_state[recommendation_key] = recommend(Cache(cache_root()), store.root)
recommendation = st.session_state[recommendation_key]
st.session_state.setdefault("label_strategy", recommendation.strategy)

left, middle, right, far = st.columns(4)
annotator = left.text_input("Annotator", key="label_annotator",
                            help="your name, recorded with each of your decisions").strip()
if not annotator:
    st.info("Enter your name as the annotator: it is recorded with each decision you make here.")
    st.stop()
st.query_params["annotator"] = annotator
strategy = middle.selectbox("Strategy", sorted(STRATEGIES), key="label_strategy",
                            help=f"Started with {recommendation.reason}")
learner = right.selectbox("Learner", sorted(LEARNERS), key="label_learner")
batch_size = far.number_input("Batch size", min_value=1, max_value=64, step=1, key="label_batch_size")
with st.expander(f"Classes: {', '.join(store.classes) or 'none yet'}", expanded=not store.classes):
    new_class = st.text_input("Add classes (comma-separated)", key="label_new_class")
    if st.button("Add", key="label_add_class") and new_class.strip():
        try:
            store.add_classes(n for n in new_class.split(",") if n.strip())
        except ValueError as exc:
            st.error(str(exc))
if not store.classes:
    st.warning("Add at least one class name to start labelling.")
    st.stop()

try:
    proposer = proposer_for(str(Path(st.session_state.label_db).resolve()),
                            settings_json(strategy, learner, int(batch_size)), 32)
    proposer.settings.check()
except ValueError as exc:
    st.error(str(exc))
    st.stop()

# The batch on screen belongs to this project, annotator, settings and tab; anything else starts a new one,
# after the decisions sent for the old one are written (as its annotator made them).
identity = (str(store.path), annotator, strategy, learner, int(batch_size), tab)
batch, value = st.session_state.get("label_batch"), st.session_state.get("label_grid")
shown_for = st.session_state.get("label_batch_identity")
acked = 0
if batch is not None and shown_for[0] == identity[0]:
    for message in apply_events(store, batch, value, shown_for[1]):
        batch.notes.append(message)
    maybe_refit(store, proposer, int(batch_size))
if batch is not None:
    acked = batch.acked
    if shown_for != identity:
        batch = None
if batch is None or batch_done(store, batch):
    with st.spinner("Preparing the next batch…"):
        fresh = new_batch(store, proposer, annotator, int(batch_size), tab)
    if fresh is not None:
        fresh.acked = max(acked, max((e["seq"] for e in (value or {}).get("events", [])), default=0))
        batch = fresh
    st.session_state.label_batch, st.session_state.label_batch_identity = batch, identity

if batch is not None:
    unviewable = drop_unviewable(store, batch)
    if unviewable:
        batch.notes.append(f"{len(unviewable)} image(s) cannot be shown (unreadable, or larger than the pixel cap) "
                           f"and were given back undecided, e.g. {unviewable[:3]}")
if proposer.error:
    st.error(f"The last refit failed: {proposer.error}")
for note in (batch.notes if batch else [])[-3:]:
    st.warning(note)
status = store.status()
undecided = status["items"] - status["labeled"] - status["skipped"] - status["unsure"]
if batch is None and undecided:
    st.info(f"The {undecided} undecided image(s) are being labelled in another tab or by another annotator; "
            "they come back here when that lease expires (10 minutes without a decision).")
elif batch is None:
    st.success(f"Every image is decided. Export the labels with "
               f"`python -m core label export csv labels.csv --db {shlex.quote(str(store.path))}`.")
elif batch_done(store, batch):
    st.info(f"The {undecided} undecided image(s) are held in another tab or by another annotator "
            "(Backspace still undoes your last decision)." if undecided else
            "Every image is decided (Backspace still undoes your last decision).")
    label_grid(store, batch, columns=int(st.session_state.label_columns), key="label_grid")
else:
    label_grid(store, batch, columns=int(st.session_state.label_columns), key="label_grid")

status = store.status()
st.subheader("Progress")
undecided = status["items"] - status["labeled"] - status["skipped"] - status["unsure"]
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Labelled", status["labeled"])
c2.metric("Skipped", status["skipped"])
c3.metric("Unsure", status["unsure"])
c4.metric("Undecided", undecided)
c5.metric("Time per label (median)", "–" if status["median_ms"] is None else f"{status['median_ms'] / 1000:.1f} s")
if status["per_annotator"]:
    st.caption("Labels per annotator: " + ", ".join(f"{k} {v}" for k, v in status["per_annotator"].items()))
if status["audit"]:
    st.caption(f"Audit sample: {status['audit_labeled']} of {status['audit']} labelled; audit images come first, "
               "show no model guess and are never trained on.")
per_class, curve, caption = progress_figures(store)
a, b = st.columns(2)
a.plotly_chart(per_class, width="stretch", key="label_per_class")
if curve is not None:
    b.plotly_chart(curve, width="stretch", key="label_curve")
b.caption(caption)
stop_panel(store)
compare_panel(store, learner, "label_strategy")
with st.expander("Export the labels"):
    out = st.text_input("CSV file (path,label)", value=str(store.path.parent / "labels.csv"), key="label_export_path")
    if st.button("Write CSV", key="label_export"):
        try:
            allowed_path(out)  # a served dashboard writes only under its --data-root
            n = export_csv(store, out)
        except ProjectError as exc:
            st.error(str(exc))
        except OSError as exc:
            st.error(f"cannot write {out} ({exc.strerror or exc})")
        else:
            command, why = comparison_command(store, out, learner=learner)
            st.success(f"Wrote {n} labels to {out}." + (" Compare strategies on them with the command below "
                                                         "(or the folder dataset with this file as its data folder)."
                                                         if command else ""))
            if command:
                st.code(command, language="bash")
                st.caption(why)
            else:
                st.info(why)
rounds = store.rounds()
if rounds:
    last = rounds[-1]
    busy = " · refitting now" if proposer.busy else ""
    st.caption(f"{len(rounds)} model round(s); the last: {last['strategy']} + {last['learner']} on "
               f"{last['n_labeled']} labels{busy}.")
