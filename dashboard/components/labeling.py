"""The Label page's parts: the keyboard grid component, applying its decisions, batches, progress figures.

The grid is a bidirectional component (`components.declare_component` on the static
`label_grid/index.html`): it shows the batch, takes the keys, and sends its decisions as a list
with increasing `seq` until the page acknowledges them, so keys pressed faster than a rerun are
never lost and a rerun never applies one twice. Each decision is its own committed write.
"""

from __future__ import annotations

import base64
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st
import streamlit.components.v1 as components

from core.labels.session import BackgroundProposer, Settings, next_batch
from core.labels.store import DECISIONS, Conflict, LabelStore, ProjectError

_GRID = components.declare_component("label_grid", path=str(Path(__file__).parent / "label_grid"))
THUMBNAIL = 224  # pixels: large enough to judge; small images are scaled up without smoothing
BATCH_WAIT_SECONDS = 60.0  # the longest the page waits on a refit when no proposal is left


@dataclass
class Batch:
    """The items on screen, the last event id each was seen at (compare-and-set), and the acknowledged seq."""

    id: str
    items: list[int]
    expected: dict[int, int]
    session: str  # this tab's claim token
    acked: int = 0
    notes: list[str] = field(default_factory=list)


@st.cache_data(max_entries=2048, show_spinner=False)
def thumbnail(path: str, mtime_ns: int, size: int = THUMBNAIL) -> str:
    """A PNG data URI of the image at `path`, longest side `size` (cached per file version); "" when it
    cannot be shown: unreadable, or over the pixel cap the folder reader decodes (a 20000 x 20000 PNG)."""
    from PIL import Image, UnidentifiedImageError

    from core.datasets.folder import MAX_DECODE_PIXELS

    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
            if image.width * image.height > MAX_DECODE_PIXELS:
                return ""
            image = image.convert("RGB")
            scale = size / max(image.size)
            resample = Image.NEAREST if scale > 1 else Image.LANCZOS
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), resample)
            buf = io.BytesIO()
            image.save(buf, format="PNG")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return ""
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _src(store: LabelStore, rel: str) -> str:
    try:
        path = store.file(rel)  # inside the project's folder, symlinks resolved
        mtime = path.stat().st_mtime_ns
    except (OSError, ProjectError):
        return ""
    return thumbnail(str(path), mtime)


def drop_unviewable(store: LabelStore, batch: Batch) -> list[str]:
    """Take the undecided images of the batch that cannot be shown off it and give back their claims (they
    stay undecided: fix or remove the file); returns their paths."""
    current = store.current()
    paths = {r["id"]: r["path"] for r in store.items()}
    bad = [i for i in batch.items if i not in current and not _src(store, paths[i])]
    if bad:
        store.release_items(bad, batch.session)
        batch.items = [i for i in batch.items if i not in bad]
    return [paths[i] for i in bad]


def label_grid(store: LabelStore, batch: Batch, *, columns: int, key: str) -> dict | None:
    """Draw the batch; returns the component's value ({batch_id, events}) or None."""
    current = store.current()
    paths = {r["id"]: (r["path"], bool(r["audit"])) for r in store.items()}
    guesses = _guesses(store, batch.items)
    items = []
    for item_id in batch.items:
        rel, audit = paths[item_id]
        event = current.get(item_id)
        predicted, confidence = (None, None) if audit else guesses.get(item_id, (None, None))
        items.append({"item_id": item_id, "name": rel, "src": _src(store, rel), "audit": audit,
                      "predicted": predicted, "confidence": confidence,
                      "decision": None if event is None else {"kind": event.kind, "label": event.label,
                                                              "by": None if event.annotator == st.session_state.get(
                                                                  "label_annotator") else event.annotator}})
    return _GRID(batch_id=batch.id, items=items, classes=store.classes, acked=batch.acked, columns=columns,
                 key=key, default=None)


def _guesses(store: LabelStore, item_ids: list[int]) -> dict[int, tuple[int, float]]:
    """item id -> (predicted class, confidence) from the newest round that proposed it."""
    if not item_ids:
        return {}
    marks = ",".join("?" * len(item_ids))
    rows = store.conn.execute(
        f"SELECT item_id, predicted, confidence FROM proposals WHERE item_id IN ({marks}) AND predicted IS NOT NULL "
        "ORDER BY round_id", item_ids).fetchall()
    return {r["item_id"]: (r["predicted"], r["confidence"]) for r in rows}  # later rounds win


def apply_events(store: LabelStore, batch: Batch, value: dict | None, annotator: str) -> list[str]:
    """Write the component's not-yet-applied decisions, one committed transaction each.

    Returns messages for the person (conflicts). Events of another batch still count: a
    decision sent just before the batch changed is applied, never dropped.
    """
    if not value:
        return []
    messages = []
    events = value.get("events", []) if isinstance(value, dict) else []
    well_formed, malformed = _well_formed(events if isinstance(events, list) else [])
    if malformed:
        messages.append(f"not recorded: {malformed} malformed decision(s) from the page")
    for event in sorted(well_formed, key=lambda e: e["seq"]):
        if event["seq"] <= batch.acked:
            continue
        batch.acked = event["seq"]
        action, item_id, ms = event["action"], event.get("item_id"), event.get("ms")
        try:
            if action == "undo":
                reverted = store.undo(annotator, ms=ms, session=batch.session)
                if reverted is not None:
                    batch.expected[reverted.item_id] = store.last_event(reverted.item_id)
                    if reverted.item_id not in batch.items:
                        batch.items.append(reverted.item_id)  # an item of an earlier batch comes back to edit
                continue
            expected = batch.expected.get(item_id)
            if expected is None:
                expected = store.last_event(item_id)
            event_id = store.decide(item_id, action, annotator=annotator, label=event.get("label"), ms=ms,
                                    expected=expected, session=batch.session)
            batch.expected[item_id] = event_id
        except Conflict as exc:
            messages.append(str(exc))
            batch.expected[item_id] = store.last_event(item_id) if item_id is not None else 0
        except ValueError as exc:  # a class removed meanwhile, a malformed event
            messages.append(f"not recorded: {exc}")
    return messages


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2 ** 53


def _well_formed(events: list) -> tuple[list[dict], int]:
    """The events shaped as the grid sends them ({seq, action, item_id, label?, ms?}), and how many were not.
    The browser is outside our control: a crafted message is refused, never a traceback."""
    good = []
    for e in events:
        ok = (isinstance(e, dict) and _is_int(e.get("seq")) and e.get("action") in (*DECISIONS, "undo")
              and (e["action"] == "undo" or _is_int(e.get("item_id")))
              and (e.get("label") is None or isinstance(e.get("label"), str))
              and (e.get("ms") is None or (isinstance(e.get("ms"), (int, float)) and not isinstance(e.get("ms"), bool)
                                            and 0 <= e["ms"] < 1e12)))
        if ok:
            good.append(e)
    return good, len(events) - len(good)


def maybe_refit(store: LabelStore, proposer: BackgroundProposer, batch_size: int) -> bool:
    """Start a background refit once half a batch of new training labels has come in since the newest round,
    so the batch after this one is chosen by a model that has seen most of it. True when one started."""
    if proposer.busy:
        return False
    rounds = store.rounds()
    audit = {r["id"] for r in store.items() if r["audit"]}
    n_train = sum(1 for i, e in store.current().items() if e.kind == "label" and i not in audit)
    seen = rounds[-1]["n_labeled"] if rounds else 0
    return n_train - seen >= max(1, batch_size // 2) and proposer.request()


def batch_done(store: LabelStore, batch: Batch) -> bool:
    current = store.current()
    return all(i in current for i in batch.items)


def new_batch(store: LabelStore, proposer: BackgroundProposer, annotator: str, size: int,
              session: str) -> Batch | None:
    """Claim the next batch: audit items first, else the newest round's proposals (waiting on a refit if
    none is free); then start the next refit so it is ready when this batch is done. None: nothing left."""
    claimed = next_batch(store, annotator, size, round_id=proposer.latest, session=session)
    if not claimed:
        proposer.wait(BATCH_WAIT_SECONDS)  # a refit in flight may bring fresh proposals
        if proposer.request():
            proposer.wait(BATCH_WAIT_SECONDS)
        claimed = next_batch(store, annotator, size, round_id=proposer.latest, session=session)
    if not claimed:
        return None
    proposer.request()
    return Batch(uuid.uuid4().hex[:12], [c.item_id for c in claimed], {c.item_id: c.last_event for c in claimed},
                 session)


def progress_figures(store: LabelStore) -> tuple[go.Figure, go.Figure | None, str]:
    """(labels per class bar chart, learning curve or None, caption saying what the curve measures)."""
    status = store.status()
    per_class = go.Figure(go.Bar(x=list(status["per_class"]), y=list(status["per_class"].values()),
                                 marker_color="#4b7bff"))
    per_class.update_layout(title="Labels per class", height=300, margin=dict(l=40, r=10, t=40, b=40),
                            yaxis_title="labels")
    rounds = [r for r in store.rounds() if r["metrics"].get("audit_accuracy") is not None
              or r["metrics"].get("cv_accuracy") is not None]
    if not rounds:
        return per_class, None, "The learning curve appears after the first model round with two classes labelled."
    audit = [r for r in rounds if "audit_accuracy" in r["metrics"]]
    curve = go.Figure()
    if audit:
        m = [r["metrics"] for r in audit]
        curve.add_trace(go.Scatter(
            x=[r["n_labeled"] for r in audit], y=[x["audit_accuracy"] for x in m], mode="lines+markers",
            name="audit accuracy",
            error_y=dict(type="data", symmetric=False, array=[x["audit_high"] - x["audit_accuracy"] for x in m],
                         arrayminus=[x["audit_accuracy"] - x["audit_low"] for x in m])))
        caption = (f"Accuracy on the audit sample ({m[-1]['audit_n']} randomly drawn images you labelled, never "
                   "trained on), with a 95% Wilson interval: an unbiased estimate of how the model does on the rest.")
    else:
        cv = [r for r in rounds if "cv_accuracy" in r["metrics"]]
        curve.add_trace(go.Scatter(x=[r["n_labeled"] for r in cv], y=[r["metrics"]["cv_accuracy"] for r in cv],
                                   mode="lines+markers", name="cross-validated accuracy"))
        caption = ("No audit sample: this is cross-validated accuracy on the labelled set. It is optimistic: the "
                   "strategy chose those images (not a random draw), and the hard, unlabelled rest is not measured. "
                   "Create the project with an audit sample for an honest estimate.")
    curve.update_layout(title="Learning curve", height=300, margin=dict(l=40, r=10, t=40, b=40),
                        xaxis_title="labels used for training", yaxis_title="accuracy", yaxis_range=[0, 1.02])
    return per_class, curve, caption


@st.cache_resource(max_entries=8, show_spinner=False)
def proposer_for(db: str, settings_json: str, image_size: int) -> BackgroundProposer:
    """One background refitter per project and settings, shared by the reruns (and tabs) of this server."""
    import json

    return BackgroundProposer(db, Settings(**json.loads(settings_json)), image_size)


def settings_json(strategy: str, learner: str, batch_size: int, params: dict[str, Any] | None = None) -> str:
    import json

    return json.dumps({"strategy": strategy, "learner": learner, "batch_size": batch_size,
                       "strategy_params": params or {}}, sort_keys=True)


# ----------------------------------------------------------------------------- compare on my labels, when to stop

def start_comparison(config, notice: str) -> None:
    """The sidebar Run's background job for `config` (unless it runs or is complete already), its settings
    loaded into the sidebar, and on to Compare."""
    from core.engine import jobs
    from dashboard.components import results
    from dashboard.components import settings as sidebar_settings
    from dashboard.components.access import check_job_limit
    from dashboard.components.widgets import plain

    root = results.cache_root()
    complete = all(n >= config.rounds for n in results.rounds_done(config).values())
    if not complete and jobs.status(root, jobs.run_job_id(config)).state != jobs.RUNNING:
        try:
            check_job_limit(root)  # a served dashboard: at most --max-jobs runs and sweeps
            jobs.start_run(config, root)
        except jobs.JobError as exc:
            st.error(plain(exc))
            return
    sidebar_settings.load(config, notice)
    st.switch_page("app_pages/compare.py")


@st.cache_data(max_entries=16, show_spinner=False)
def _project_verdict(root: str, project: str, stamp: int):
    """`project_verdict`, read again only when a comparison record is written (`stamp`: the folder's mtime):
    the Label page reruns after every decision."""
    from core.engine.cache import Cache
    from core.labels import recommend

    return recommend.project_verdict(Cache(root), project)


def compare_panel(store: LabelStore, learner: str, strategy_key: str) -> None:
    """'Compare strategies on my labels' (sized to the labels there are, or disabled with the reason), and the
    verdict of the last finished comparison on this project with an offer to continue with its winner."""
    from core.engine.cache import Cache
    from core.labels.recommend import labels_comparison
    from dashboard.components.results import cache_root
    from dashboard.components.widgets import plain

    st.subheader("Compare strategies on my labels")
    config, why = labels_comparison(store, store.path, learner=learner)
    if st.button("Compare strategies on my labels", key="label_compare", disabled=config is None, help=why,
                 icon=":material/compare_arrows:"):
        start_comparison(config, f"Comparing strategies on your labels in {store.path.name} (started from the Label "
                                 "page): accuracy against labels or your labelling minutes.")
    st.caption(plain(why))
    records = Cache(cache_root()).area("comparisons")
    stamp = records.stat().st_mtime_ns if records.is_dir() else 0  # a record is written by rename: the folder changes
    found = _project_verdict(str(cache_root()), str(store.path), stamp)
    if found is None:
        return
    record, result = found
    st.info(plain(f"Last comparison on your labels ({record['key'][:8]}): {result.sentence}"), icon=":material/gavel:")
    current = st.session_state.get(strategy_key)
    if result.kind == "recommend" and result.recommended and result.recommended != current:
        st.button(f"Continue labelling with {result.recommended}", key="label_use_winner",
                  on_click=st.session_state.__setitem__, args=(strategy_key, result.recommended),
                  help="The comparison found it significantly better than random on your labels (Holm-corrected).")


def stop_panel(store: LabelStore, shown_rounds: int = 5) -> None:
    """When to stop: the stop signal's sentence and the audit accuracy of the last rounds with Wilson intervals."""
    import pandas as pd

    from core.labels.session import model_rounds
    from core.labels.stopping import stop_signal, wilson
    from dashboard.components.widgets import plain

    st.subheader("When to stop")
    rounds = model_rounds(store)
    signal = stop_signal(rounds)
    sentence = signal.sentence[0].upper() + signal.sentence[1:]
    (st.success if signal.flattened else st.info)(plain(sentence), icon=":material/flag:")
    audited = [r for r in rounds if r.audit_total][-shown_rounds:]
    if audited:
        rows = []
        for r in audited:
            low, high = wilson(r.audit_correct, r.audit_total)
            rows.append({"Labels": r.n_labeled, "Audit accuracy": f"{r.audit_correct / r.audit_total:.3f}",
                         "95% interval (Wilson)": f"[{low:.3f}, {high:.3f}]",
                         "Audit images": r.audit_total})
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="label_stop_audit")
        st.caption("Audit images are drawn at random and never trained on: an unbiased estimate. Gains inside "
                   "the intervals are noise.")
    else:
        st.caption("No audit sample labelled: the signal rests on the stop set's agreement alone (`label init "
                   "--audit N` marks one).")
