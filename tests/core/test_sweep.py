"""Sweeps: grid parsing and validation, planning once, reading apart from writing, a small local sweep, the
same on a local Ray, kill-and-resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from core.engine.cache import Cache
from core.cli import main
from core.engine.config import RunConfig
from core.analysis.metrics import summary_table
from core.engine.runner import run_comparison
from core.sweep import (
    ExecutorError, GridError, LocalExecutor, Task, build_sweep, collect_runs, load_grid, load_sweep_results, parse_grid,
    plan_sweep, probe_cache, run_sweep, save_comparisons,
)

REPO = Path(__file__).resolve().parents[2]
# Small and quick: 3 strategies x alpha {0.5, 1.0}; random and entropy do not depend on
# alpha, so 2 points x 3 strategies x 2 repeats dedupe to 8 units.
BASE = {"dataset": "digits", "strategies": ["random", "entropy", "hybrid"], "initial": 20, "batch": 10, "rounds": 4,
        "clusters": 2, "repeats": 2, "subset": 400}
GRID = {"alpha": [0.5, 1.0]}
CLI_ARGS = ["--vary", "alpha=0.5,1", "--strategies", "random,entropy,hybrid", "--initial", "20", "--batch", "10",
            "--rounds", "4", "--clusters", "2", "--repeats", "2", "--subset", "400"]  # the same sweep
RESULT_COLUMNS = ["point", "alpha", "strategy", "repeats", "aulc", "aulc_ci_low", "aulc_ci_high", "final"]


class NoExecutor:
    """Fails if the sweep hands it any work: a finished sweep must start nothing."""

    name = "none"

    def check_cache(self, cache):
        raise AssertionError("a finished sweep checked the workers' cache")

    def map(self, tasks, cache_dir):
        raise AssertionError(f"a finished sweep dispatched {len(tasks)} runs")


# ----------------------------------------------------------------------------- grid


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(GridError, match=r"unknown option 'alpah'.*valid options: \[.*'batch'.*"
                                        r"learner_params.NAME, for 'logistic': \['C', 'max_iter'\]; strategy "
                                        r"parameters as STRATEGY.PARAM .*\['alpha', 'clusters', 'measure'\]"):
        build_sweep({}, {"alpah": [0.5]})


def test_unknown_learner_setting_lists_the_learners_settings():
    with pytest.raises(GridError, match=r"learner_params.*'gama'.*valid: \['C', 'max_iter'\]"):
        build_sweep({}, {"learner_params.gama": [0.1, 1.0]})


@pytest.mark.parametrize("grid, message", [
    ({}, r"\[grid\] is empty"),
    ({"alpha": 0.5}, r"alpha must be a non-empty list"),
    ({"alpha": []}, r"alpha must be a non-empty list"),
    ({"alpha": [0.5, 0.5]}, r"lists a value more than once"),
    ({"initial": [20], "clusters": [1]}, r"\['initial'\] are both fixed"),
])
def test_bad_grids_say_what_is_wrong(grid, message):
    with pytest.raises(GridError, match=message):
        build_sweep({"initial": 20}, grid)


def test_file_keys_and_heatmap_axes_are_checked():
    with pytest.raises(GridError, match=r"unknown key\(s\) \['grids'\]; valid top-level keys: \['name', 'skip_invalid'"):
        parse_grid({"grids": {"alpha": [1.0]}})
    with pytest.raises(GridError, match=r"heatmap axis 'batch' must be a swept option.*\['alpha'\]"):
        parse_grid({"grid": {"alpha": [0.5, 1.0]}, "heatmap": {"x": "alpha", "y": "batch"}})


def test_invalid_points_are_listed_or_skipped():
    grid = {"alpha": [0.2, 1.0], "clusters": [1, 3]}  # alpha 0.2 x batch 10 allows 2 clusters at most
    with pytest.raises(GridError, match=r"1 of 4 grid points are invalid: alpha=0.2, clusters=3: hybrid.clusters must be.*"
                                        r"--skip-invalid"):
        build_sweep({"strategies": ["hybrid"]}, grid)
    sweep = build_sweep({"strategies": ["hybrid"]}, grid, skip_invalid=True)
    assert [p.params for p in sweep.points] == [{"alpha": 0.2, "clusters": 1}, {"alpha": 1.0, "clusters": 1},
                                                {"alpha": 1.0, "clusters": 3}]
    assert sweep.skipped[0][0] == {"alpha": 0.2, "clusters": 3}


def test_points_that_do_not_fit_the_data_are_reported(cache_dir):
    sweep = build_sweep({"strategies": ["random"], "subset": 100}, {"rounds": [5, 20]})  # 20 + 10*19 > 100
    with pytest.raises(GridError, match=r"1 of 2 grid points do not fit the data: rounds=20: budget"):
        plan_sweep(sweep, Cache(cache_dir))


def test_toml_file_with_nested_learner_settings(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('name = "C sweep"\n[base]\nstrategies = ["random", "entropy"]\nlearner_params.max_iter = 200\n'
                    '[grid]\nlearner_params.C = [0.1, 1]\nalpha = [1]\n')
    sweep = load_grid(path)
    assert sweep.name == "C sweep"
    assert [p.config.learner_params for p in sweep.points] == [{"max_iter": 200, "C": 0.1}, {"max_iter": 200, "C": 1}]
    alpha = sweep.points[0].config.params_for("hybrid")["alpha"]
    assert alpha == 1.0 and isinstance(alpha, float)
    assert sweep.heatmap_axes() == ("learner_params.C", None)  # alpha has a single value
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid\nalpha = [1]\n")
    with pytest.raises(GridError, match=r"bad.toml' is not valid TOML"):
        load_grid(bad)


def test_a_sweep_without_strategies_compares_the_run_defaults():
    sweep = build_sweep({}, {"alpha": [0.5, 1.0]})  # as `sweep --vary alpha=0.5,1`
    assert [p.config.strategies for p in sweep.points] == [RunConfig().strategies] * 2


def test_a_learner_setting_can_be_a_heatmap_axis(cache_dir, tmp_path):
    argv = ["sweep", "--vary", "learner_params.C=0.1,1", "--strategies", "entropy", "--rounds", "2", "--subset", "200",
            "--cache-dir", str(cache_dir), "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    html = (tmp_path / "heatmap.html").read_text()
    assert "learner_params.C = 0.1" in html and "learner_params.C = 1" in html  # each cell's hover names its C


def test_a_bad_learner_setting_value_in_the_grid_is_reported_before_running(cache_dir):
    with pytest.raises(GridError, match=r"learner_params.C=-1: learner_params.C must be a number > 0; got -1"):
        build_sweep({"strategies": ["entropy"]}, {"learner_params.C": [-1, 1]})


def test_the_example_grid_file_is_valid():
    sweep = load_grid(REPO / "examples" / "sweep_alpha_clusters.toml")
    assert sweep.heatmap_axes() == ("alpha", "clusters") and len(sweep.points) == 14 and len(sweep.skipped) == 2


def test_units_shared_by_grid_points_are_planned_once(cache_dir):
    plan = plan_sweep(build_sweep(BASE, GRID), Cache(cache_dir))
    assert len(plan.units) == 8  # random 2 + entropy 2 + hybrid 2 x 2, not 2 points x 6
    assert sorted(len(u.points) for u in plan.units) == [1] * 4 + [2] * 4


def test_cli_rejects_bad_grids_with_usage_status(capsys):
    assert main(["sweep", "--vary", "alpah=0.5,1"]) == 2
    assert "unknown option 'alpah'" in capsys.readouterr().err
    assert main(["sweep", "--rounds", "3"]) == 2
    assert "give a grid" in capsys.readouterr().err


# ----------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def local_result(tmp_path_factory):
    cache = Cache(tmp_path_factory.mktemp("local") / "cache")
    return cache, run_sweep(build_sweep(BASE, GRID), cache, executor=LocalExecutor(jobs=2))


def test_local_sweep_matches_single_comparisons(local_result):
    cache, result = local_result
    assert result.progress.computed == 8 and not result.errors
    assert len(result.runs) == 2 * 3 and result.runs.complete.all()
    for alpha in GRID["alpha"]:  # each grid point reads exactly like a comparison run on its own
        config = RunConfig.from_dict({**BASE, "alpha": alpha})
        expected = summary_table(run_comparison(config, cache=cache).frame(), result.metric)
        got = result.runs[result.runs.alpha == alpha].reset_index(drop=True)
        pd.testing.assert_series_equal(got.aulc, expected.aulc, check_names=False)
        assert list(got.strategy) == list(expected.strategy)
        assert cache.read_comparison(config.key())["status"] == "done"  # the other pages can open it
    best = result.best.set_index("strategy")
    assert set(best.index) == {"random", "entropy", "hybrid"}
    assert best.loc["hybrid", "aulc"] == result.runs[result.runs.strategy == "hybrid"].aulc.max()


def test_rerunning_a_finished_sweep_starts_nothing(local_result):
    cache, first = local_result
    again = run_sweep(build_sweep(BASE, GRID), cache, executor=NoExecutor())
    assert again.dispatched == 0 and again.progress.cached == 8 and again.progress.computed == 0
    pd.testing.assert_frame_equal(again.runs, first.runs)


def test_cli_writes_tables_and_heatmap(local_result, tmp_path, capsys):
    cache, first = local_result
    argv = ["sweep", *CLI_ARGS, "--cache-dir", str(cache.root), "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    assert "0 runs computed, 8 read from the cache" in capsys.readouterr().err
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert list(runs.aulc) == pytest.approx(list(first.runs.aulc))
    best = pd.read_csv(tmp_path / "best.csv").set_index("strategy")
    assert len(best) == 3
    # alpha changes only the hybrid's runs: the others' best row names no alpha
    assert best.alpha.isna().to_dict() == {"random": True, "entropy": True, "hybrid": False}
    html = (tmp_path / "heatmap.html").read_text()
    assert "AULC" in html and "aulc_by_seed" not in html  # a result column, not a swept option


def test_a_command_plans_its_sweep_once(local_result, tmp_path, monkeypatch):
    """Planning loads each dataset and reads every unit's rounds: the command prints the plan and runs the same one."""
    import core.sweep.plan as planning

    loads = []
    real_load = planning.load_dataset
    monkeypatch.setattr(planning, "load_dataset", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    cache, _ = local_result
    assert main(["sweep", *CLI_ARGS, "--cache-dir", str(cache.root), "--out", str(tmp_path), "--quiet"]) == 0
    assert len(loads) == 1  # one dataset, one plan
    plan = plan_sweep(build_sweep(BASE, GRID), cache)
    loads.clear()
    assert load_sweep_results(plan.sweep, cache, plan=plan).progress.cached == 8 and not loads


def test_a_plan_made_for_another_sweep_is_refused(local_result):
    cache, _ = local_result
    other = plan_sweep(build_sweep(BASE, {"alpha": [0.5]}), cache)
    with pytest.raises(ValueError, match="plan was made for another sweep"):
        run_sweep(build_sweep(BASE, GRID), cache, executor=NoExecutor(), plan=other)


def test_collect_runs_only_reads_and_save_comparisons_records_finished_points(cache_dir):
    cache = Cache(cache_dir)
    sweep = build_sweep({"strategies": ["random"], "rounds": 2, "subset": 200}, GRID)  # random ignores alpha: 1 unit
    plan = plan_sweep(sweep, cache)
    tasks = [Task(plan.datasets[u.dataset_key], u.spec, u.key) for u in plan.units]
    assert len(tasks) == 1 and not list(LocalExecutor(jobs=1).map(tasks, str(cache_dir)))[0].error
    plan = plan_sweep(sweep, cache)
    written = {p: p.stat().st_mtime_ns for p in cache_dir.rglob("*")}
    runs, _ = collect_runs(plan, cache)
    assert len(runs) == 2 and runs.complete.all()
    assert {p: p.stat().st_mtime_ns for p in cache_dir.rglob("*")} == written  # read, wrote nothing
    assert all(cache.read_comparison(p.config.key()) is None for p in plan.sweep.points)
    saved = save_comparisons(plan, cache)
    assert sorted(saved) == [0, 1]
    assert all(cache.read_comparison(p.config.key())["status"] == "done" for p in plan.sweep.points)
    pd.testing.assert_frame_equal(collect_runs(plan, cache, comparisons=saved)[0], runs)


@pytest.mark.slow
def test_ray_sweep_gives_identical_results(local_result, tmp_path):
    ray = pytest.importorskip("ray")
    from core.sweep import RayExecutor

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        result = run_sweep(build_sweep(BASE, GRID), Cache(tmp_path / "cache"), executor=RayExecutor(address="auto"))
    finally:
        ray.shutdown()
    assert result.progress.computed == 8 and not result.errors
    pd.testing.assert_frame_equal(result.runs[RESULT_COLUMNS], local_result[1].runs[RESULT_COLUMNS])


def test_cache_probe_fails_on_a_directory_the_driver_does_not_share(tmp_path):
    with pytest.raises(ExecutorError, match="different directory"):
        probe_cache(str(tmp_path), "token-the-driver-wrote-elsewhere", "node-1")


# ----------------------------------------------------------------------------- kill and resume


def _loky_workers(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if ppid == parent and "loky" in cmdline and "resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


def _round_counts(cache_root: Path) -> dict[str, int]:
    runs = cache_root / "runs"
    return {d.name: len(Cache(cache_root).run(d.name).load_rounds()) for d in runs.iterdir()} if runs.is_dir() else {}


@pytest.mark.slow
def test_sigkilled_worker_leaves_the_sweep_resumable(local_result, tmp_path):
    cache_root, out = tmp_path / "cache", tmp_path / "out"
    argv = [sys.executable, "-m", "core", "sweep", *CLI_ARGS, "--jobs", "2", "--cache-dir", str(cache_root), "--out",
            str(out), "--quiet"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    sweep = subprocess.Popen(argv, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(_round_counts(cache_root).values()) and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.02)
    workers = _loky_workers(sweep.pid)
    assert workers and sweep.poll() is None, "the sweep ended before a worker could be killed"
    before = _round_counts(cache_root)
    os.kill(workers[0], signal.SIGKILL)
    _, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 1 and "worker process died" in err and "run the sweep again to resume" in err
    after = _round_counts(cache_root)  # every record readable; no completed round was lost
    assert all(after[key] >= n for key, n in before.items())
    assert not list(cache_root.glob("runs/*/*.corrupt"))

    rerun = subprocess.run(argv, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    resumed = pd.read_csv(out / "runs.csv")
    assert list(resumed.aulc) == pytest.approx(list(local_result[1].runs.aulc), abs=0)


def test_strategy_parameters_are_grid_options_under_their_own_name_or_alias(tmp_path):
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text('[base]\nstrategies = ["random", "margin_density"]\n[grid.margin_density]\nbeta = [0, 2]\n')
    sweep = load_grid(grid_file)
    assert list(sweep.grid) == ["margin_density.beta"]
    assert [p.config.params_for("margin_density") for p in sweep.points] == [{"beta": 0.0}, {"beta": 2.0}]
    # the alias and the qualified name build the same comparisons
    assert [p.config.key() for p in build_sweep({}, {"alpha": [0.5, 1.0]}).points] == \
        [p.config.key() for p in build_sweep({}, {"hybrid.alpha": [0.5, 1.0]}).points]
    with pytest.raises(GridError, match=r"unknown strategy parameter 'hybrid.alhpa'; 'hybrid' takes \['alpha', "):
        build_sweep({}, {"hybrid.alhpa": [0.5]})


def test_a_strategy_parameter_is_relevant_only_to_its_strategy():
    from core.sweep.grid import relevant_strategies

    assert relevant_strategies("hybrid.clusters") == relevant_strategies("clusters") == {"hybrid"}
    assert relevant_strategies("margin_density.beta") == {"margin_density"}
    assert relevant_strategies("batch") is None and relevant_strategies("learner_params.C") is None


def test_a_sweep_whose_points_the_data_rule_out_keeps_its_launch_key(tmp_path):
    """The status file is found under the key the sweep was launched with (the dashboard's job id)."""
    from core.cli import main
    from core.sweep import parse_grid, read_statuses

    argv = ["sweep", "--vary", "rounds=2,20", "--strategies", "random", "--subset", "100", "--skip-invalid",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--quiet"]
    assert main(argv) == 0
    launched = parse_grid({}, base={"strategies": ["random"], "subset": 100}, vary={"rounds": [2, 20]}, skip_invalid=True)
    statuses = read_statuses(Cache(tmp_path / "cache"))
    assert [s["key"] for s in statuses] == [launched.key]
    assert statuses[0]["status"] == "done"


def test_a_sweep_without_out_never_overwrites_the_previous_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    small = ["--vary", "alpha=0.5,1", "--strategies", "random,hybrid", "--initial", "20", "--batch", "10",
             "--rounds", "2", "--clusters", "2", "--repeats", "1", "--subset", "200", "--quiet",
             "--cache-dir", str(tmp_path / "cache")]
    assert main(["sweep", *small]) == 0
    first = (tmp_path / "out" / "sweep" / "runs.csv").read_text()
    capsys.readouterr()
    assert main(["sweep", *small, "--vary", "alpha=0.25"]) == 0
    assert "writing to out/sweep-2: out/sweep holds a previous sweep" in capsys.readouterr().err
    assert (tmp_path / "out" / "sweep" / "runs.csv").read_text() == first
    assert "0.25" in (tmp_path / "out" / "sweep-2" / "runs.csv").read_text()
