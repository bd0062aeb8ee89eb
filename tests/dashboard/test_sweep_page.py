"""The Sweep page through AppTest: a finished sweep's heatmap, tables, and opening a grid point."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.engine.cache import Cache
from core.sweep import LocalExecutor, build_sweep, run_sweep
from tests.dashboard.conftest import SMALL, SMALL_STATE

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def sweep_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep") / "cache"
    base = {k: v for k, v in SMALL.to_dict().items() if k != "strategy_params"}
    sweep = build_sweep(base, {"alpha": [0.5, 1.0], "clusters": [1, 2]}, name="page test")
    run_sweep(sweep, Cache(root), executor=LocalExecutor(jobs=1))
    return root


def _page(root) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["cache_dir"] = str(root)
    for key, value in SMALL_STATE.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("app_pages/sweep.py")
    at.run()
    return at


@pytest.mark.slow  # the module's sweep fixture runs a sweep (about 7 s)
def test_finished_sweep_shows_heatmap_best_table_and_progress(sweep_cache):
    at = _page(sweep_cache)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert "page test" in at.selectbox(key="sweep_choice").format_func(at.selectbox(key="sweep_choice").value)
    assert len(at.get("plotly_chart")) == 1
    assert at.selectbox(key="sweep_x").value == "alpha" and at.selectbox(key="sweep_y").value == "clusters"
    best = at.dataframe[0].value  # the best-configuration table comes first
    assert sorted(best.strategy) == ["entropy", "hybrid", "random"]
    # 4 points x 3 strategies x 2 repeats = 24 runs, of which random and entropy are shared: 2 + 2 + 4 x 2
    assert any("12/12 runs" in p.proto.text for p in at.get("progress"))
    assert not any("paradigm" in h.value for h in at.subheader)  # no learner swept: no paradigm table


@pytest.mark.slow  # the module's sweep fixture runs a sweep (about 7 s)
def test_grid_widgets_explain_invalid_values_and_open_a_point(sweep_cache):
    at = _page(sweep_cache)
    at.text_input(key="sweep_values_hybrid.alpha").set_value("0.5, 0.5").run()
    assert any("more than once" in e.value for e in at.error)
    assert at.button(key="sweep_launch").disabled
    at.selectbox(key="sweep_point").select_index(3)  # alpha=1.0, clusters=2
    at.button(key="sweep_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    hybrid = at.session_state["settings"]["strategy_params"]["hybrid"]
    assert hybrid["alpha"] == 1.0 and hybrid["clusters"] == 2
    assert at.session_state["config"].params_for("hybrid")["alpha"] == 1.0


def test_a_sweep_over_the_learner_says_what_the_paradigm_buys_next_to_the_strategy(tmp_path):
    root = tmp_path / "cache"
    base = {k: v for k, v in SMALL.to_dict().items() if k not in ("strategy_params", "strategies", "learner")}
    sweep = build_sweep({**base, "strategies": ["random", "entropy"], "repeats": 3},
                        {"learner": ["label_spreading", "logistic"]})
    run_sweep(sweep, Cache(root), executor=LocalExecutor(jobs=1))
    at = _page(root)
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value == "What the paradigm buys, and what the strategy buys" for h in at.subheader)
    sentence = next(m.value for m in at.markdown if m.value.startswith("Under random sampling, "))
    assert "the label_spreading learner" in sentence and "over logistic" in sentence and "over random" in sentence
    table = next(d.value for d in at.dataframe if "paradigm_gain" in d.value.columns).set_index(["paradigm", "strategy"])
    assert sorted(table.index) == sorted((p, s) for p in ("label_spreading", "logistic") for s in ("random", "entropy"))
    gain = table.loc[("label_spreading", "random"), "paradigm_gain"]  # every seed paired: the difference of means
    assert gain == pytest.approx(table.loc[("label_spreading", "random"), "aulc"] - table.loc[("logistic", "random"), "aulc"])
    assert f"{gain:+.3f} AULC" in sentence


def test_an_unnamed_sweep_is_listed_by_what_it_varies(tmp_path):
    root = tmp_path / "cache"
    base = {k: v for k, v in SMALL.to_dict().items() if k not in ("strategy_params", "strategies")}
    sweep = build_sweep({**base, "strategies": ["hybrid"]}, {"alpha": [0.5, 1.0]})  # as `--vary alpha=0.5,1`
    run_sweep(sweep, Cache(root), executor=LocalExecutor(jobs=1))
    at = _page(root)
    choice = at.selectbox(key="sweep_choice")
    assert choice.options[0].startswith("alpha 0.5, 1.0 · ")  # no name: what it varies
    assert any("4/4 runs" in p.proto.text and "done" in p.proto.text for p in at.get("progress"))


# --------------------------------------------------------------------------- launching from the page

_GATE = "import os, sys; open(sys.argv[1]).read(); os.execv(sys.argv[2], sys.argv[2:])"


def _reaper(job_id: str):
    import threading

    return next(t for t in threading.enumerate() if t.name == f"reap-{job_id}")


@pytest.mark.slow
def test_a_launched_sweep_is_listed_at_once_and_followed_to_the_end(tmp_path, monkeypatch):
    """Launch shows the new sweep as 'starting' before its process writes anything (the process
    waits on a FIFO here), then done with its results; the ended process is reaped."""
    import os
    import sys

    from core.engine import jobs

    root = tmp_path / "cache"
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    real_start = jobs.start
    started = []

    def gated_start(cache_root, job_id, command, **kw):
        started.append(job_id)
        return real_start(cache_root, job_id, [sys.executable, "-c", _GATE, str(gate), *command], **kw)

    monkeypatch.setattr(jobs, "start", gated_start)
    try:
        at = _page(root)
        assert any("No sweep yet" in i.value for i in at.info)
        at.text_input(key="sweep_values_hybrid.alpha").set_value("0.5, 1.0").run()
        at.text_input(key="sweep_values_hybrid.clusters").set_value("1").run()
        at.number_input(key="sweep_jobs").set_value(1).run()
        at.button(key="sweep_launch").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert not any("No sweep yet" in i.value for i in at.info)
        choice = at.selectbox(key="sweep_choice")
        assert choice.value is not None and choice.options[0].startswith("hybrid.alpha 0.5, 1.0 · hybrid.clusters 1 · ")
        assert at.button(key="sweep_launch").disabled
        assert any("starting" in p.proto.text for p in at.get("progress"))

        job_id = f"sweep-{choice.value}"
        pid = jobs.read_job(root, job_id).pid
        with open(gate, "w"):
            pass  # let the sweep process go on
        reaper = _reaper(job_id)
        reaper.join(timeout=120)
        assert not reaper.is_alive()
        assert not os.path.exists(f"/proc/{pid}")  # reaped by the launch path: no <defunct> left behind
        assert jobs.read_job(root, job_id).returncode == 0

        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        # random and entropy ignore alpha and clusters: 2 + 2 + 2 x 2 (hybrid) runs
        assert at.selectbox(key="sweep_choice").value == choice.value
        assert any(p.proto.text.startswith("8/8 runs") and "done" in p.proto.text for p in at.get("progress"))
        assert not at.button(key="sweep_launch").disabled
        assert len(at.get("plotly_chart")) == 1
    finally:
        for job_id in started:  # a failed assertion must not leave a process waiting on the FIFO
            jobs.cancel(root, job_id)


def test_start_sweep_reaps_its_process_and_records_the_exit_status(tmp_path, monkeypatch):
    import os
    import sys

    from core.engine import jobs
    from core.sweep import start_sweep

    real_start = jobs.start
    monkeypatch.setattr(jobs, "start", lambda cache_root, job_id, command, **kw: real_start(
        cache_root, job_id, [sys.executable, "-c", "raise SystemExit(3)"], **kw))
    base = {k: v for k, v in SMALL.to_dict().items() if k != "strategy_params"}
    job = start_sweep(build_sweep(base, {"alpha": [0.5, 1.0]}), tmp_path / "cache")
    reaper = _reaper(job.job_id)
    reaper.join(timeout=60)
    assert not reaper.is_alive()
    assert not os.path.exists(f"/proc/{job.pid}")
    assert jobs.read_job(tmp_path / "cache", job.job_id).returncode == 3
