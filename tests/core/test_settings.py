"""Settings from every entry point resolve once into one checked RunConfig (issue 19)."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import core.params
from core.cli import main
from core.engine.config import RunConfig, resolve
from core.params import Interval
from core.strategies import STRATEGIES
from core.strategies.base import Strategy, check_k, top_k

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--rounds", "2", "--no-cache", "--quiet"]


def run_main(args) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # argparse's own errors
        return exc.code


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def checks(monkeypatch):
    """How often each setting's value was checked (core.params.check_value is the one checker)."""
    counts: collections.Counter = collections.Counter()
    real = core.params.check_value

    def counting(name, value, constraint, option=None):
        counts[option or name] += 1
        return real(name, value, constraint, option)

    for name, module in list(sys.modules.items()):  # every module that imported the checker by name
        if name.split(".")[0] == "core" and getattr(module, "check_value", None) is real:
            monkeypatch.setattr(module, "check_value", counting)
    return counts


def test_a_run_checks_each_setting_once(tmp_path, checks, capsys):
    """One CLI run with 2 repeats checked the learner's settings 13 times and hybrid's 4 times."""
    code = main(["run", "--strategies", "random,entropy,hybrid", "--repeats", "2", "--learner-param", "C=2",
                 "--alpha", "0.6", *FAST, "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    for setting in ("learner_params.C", "learner_params.max_iter", "hybrid.alpha", "hybrid.clusters",
                    "hybrid.measure", "batch", "rounds", "repeats"):
        assert checks[setting] == 1, (setting, dict(checks))


def test_layers_merge_setting_by_setting():
    """A flag overrides one setting of a file and keeps the file's others, in any spelling."""
    config = resolve({"learner_params": {"C": 0.5, "max_iter": 50}, "strategy_params": {"hybrid": {"alpha": 0.8}}},
                     {"learner_params.C": 2.0, "alpha": 1.0, "clusters": 2})
    assert config.learner_params == {"C": 2.0, "max_iter": 50}
    assert config.params_for("hybrid") == {"alpha": 1.0, "clusters": 2, "measure": "entropy"}


def test_a_config_file_value_of_the_float_options_is_the_command_lines(tmp_path):
    """JSON `"test_size": 0` and `--test-size 0` are one comparison (the same key)."""
    assert RunConfig.from_dict({"test_size": 0}).key() == RunConfig(test_size=0.0).key()


# ---- hostile --config and grid files: one line, no traceback ---------------------------------------------


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


HOSTILE = {
    "deep.json": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "deep.toml": (b"x = " + b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "shape.json": (b'{"strategy_params": {"hybrid": 5}}', "strategy_params.hybrid must be a table of PARAM = VALUE"),
    "latin1.json": ('{"dataset": "d\u00e9j\u00e0"}'.encode("latin-1"), "not UTF-8 text"),
    "list.json": (b"[1, 2]", "must hold a table"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_config_file_is_one_line(tmp_path, capsys, name):
    data, message = HOSTILE[name]
    flag = ["--alpha", "0.3"]  # merged into the file's hybrid table: an int there was an AttributeError traceback
    code = run_main(["run", "--config", _write(tmp_path / name, data), *flag, "--out", str(tmp_path / "out"),
                     "--cache-dir", str(tmp_path / "cache")])
    line = one_error_line(capsys)
    assert code == 2 and line.startswith("python -m core run: error: ") and message in line, line
    assert name in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_grid_file_is_one_line(tmp_path, capsys, name):
    data, message = HOSTILE[name]
    if name == "shape.json":
        data = b'{"base": {"strategy_params": {"hybrid": 5}}, "grid": {"batch": [10]}}'
    if name == "list.json":
        message = "expected a table"
    code = run_main(["sweep", "--grid", _write(tmp_path / name, data), "--cache-dir", str(tmp_path / "cache"),
                     "--out", str(tmp_path / "out")])
    line = one_error_line(capsys)
    assert code == 2 and line.startswith("python -m core sweep: error: ") and message in line, line


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32"])
def test_a_config_file_with_a_byte_order_mark_reads_as_its_utf8_twin(tmp_path, capsys, encoding):
    """UTF-16 JSON (what some Windows editors save) failed with a UnicodeDecodeError."""
    text = json.dumps({"strategies": ["random"], "rounds": 0})
    code = run_main(["run", "--config", _write(tmp_path / "c.json", text.encode(encoding)),
                     "--out", str(tmp_path / "out")])
    line = one_error_line(capsys)
    assert code == 2 and "rounds must be an integer >= 1" in line, line  # the file was read: its value is checked


def test_a_toml_config_reads_on_python_3_10_through_tomli(tmp_path):
    """Python 3.10 has no tomllib: `--config x.toml` failed with ModuleNotFoundError. Simulated: tomllib
    missing, `tomli` (the same parser, a dependency on 3.10) present."""
    config = tmp_path / "run.toml"
    config.write_text('strategies = ["random"]\nrounds = 0\n')
    code = ("import sys, tomllib; sys.modules['tomli'] = tomllib; sys.modules['tomllib'] = None\n"
            "from core.cli import main\n"
            f"sys.exit(main(['run', '--config', {str(config)!r}, '--out', {str(tmp_path / 'out')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "python -m core run: error: rounds must be an integer >= 1 (at most 10000); got 0"


def test_a_huge_grid_is_refused_before_any_point_is_built(tmp_path, capsys):
    """A 1000 x 1000 grid took 3.5 GB and 3 minutes; the limit is stated in the error."""
    from core.sweep.grid import MAX_GRID_POINTS

    grid = {"grid": {"batch": list(range(1, 1001)), "initial": list(range(20, 1020))}}
    started = time.perf_counter()
    code = run_main(["sweep", "--grid", _write(tmp_path / "g.json", json.dumps(grid).encode()), "--dry-run",
                     "--cache-dir", str(tmp_path / "cache")])
    line = one_error_line(capsys)
    assert code == 2 and f"1000 x 1000 = 1000000 points; a sweep takes at most {MAX_GRID_POINTS}" in line, line
    assert time.perf_counter() - started < 10


# ---- the Label page's proposals go through the run's check -----------------------------------------------


@pytest.fixture
def labelled_project(tmp_path):
    """A tiny labelling project with two classes labelled (so a proposal would fit a model)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    from core.labels.io import import_folder
    from core.labels.store import LabelStore

    digits = load_digits()
    root = tmp_path / "images"
    root.mkdir()
    for i in range(30):
        Image.fromarray((digits.images[i] * 15).astype(np.uint8)).save(root / f"d{i:03d}.png")
    store = LabelStore.create(tmp_path / "p.db", root)
    store.add_classes([str(c) for c in range(10)])
    import_folder(store, class_folders=False)
    for item in store.items()[:6]:
        store.decide(int(item["id"]), "label", annotator="t", label=str(digits.target[int(item["path"][1:4])]), ms=1)
    return store


def test_label_propose_fails_the_run_check_before_fitting(labelled_project, capsys, monkeypatch):
    """`label propose --strategy hybrid --batch 1` failed only after fitting (the Label path skipped the run check)."""
    from core.learners.linear import LogisticLearner

    fitted = []
    monkeypatch.setattr(LogisticLearner, "fit", lambda self, *a, **k: fitted.append(1) or self)
    code = run_main(["label", "propose", "--db", str(labelled_project.path), "--strategy", "hybrid", "--batch", "1"])
    line = one_error_line(capsys)
    assert code == 2
    # a round ranks 4 candidates per batch slot: the strategy selects 4
    assert ("hybrid.clusters must be between 1 and round(alpha*batch) = round(0.5*4) = 2; got 5: lower the number "
            "of clusters or raise alpha or the batch size") in line, line
    assert fitted == []
    assert labelled_project.rounds() == []


# ---- a plug-in parameter added in one declaration reaches every entry point --------------------------------


class _Powered(Strategy):
    """Fixture: smallest margin raised to `power`, in pool and stream mode."""

    parameters = {"power": Interval(float, 0.0, 8.0, closed="right", default=1.0, help="exponent of the margin score")}
    stream = "score"
    applied: list = []

    def _score(self, view) -> np.ndarray:
        top2 = np.sort(view.proba, axis=1)[:, -2:]
        return (1.0 - (top2[:, 1] - top2[:, 0])) ** self.power

    def select(self, view, k, *, rng):
        type(self).applied.append(self.power)
        check_k(k, view.n_unlabeled)
        scores = self._score(view)
        from core.types import Selection

        return Selection(view.unlabeled[top_k(scores, k, rng)], scores, "powered")

    def stream_score(self, view):
        type(self).applied.append(self.power)
        return self._score(view)


@pytest.fixture
def powered(monkeypatch):
    """Registers the fixture strategy `powered` for one test (a new plug-in with one declared parameter)."""
    STRATEGIES.names()  # discover the real ones first
    cls = type("Powered", (_Powered,), {"applied": []})
    cls.name = "powered"
    monkeypatch.setitem(STRATEGIES._items, "powered", cls)
    return cls


def test_a_new_plugin_parameter_is_accepted_and_applied_everywhere(powered, tmp_path, capsys, labelled_project):
    from core.sweep import parse_grid

    # command-line flags
    assert main(["run", "--strategies", "powered", "--strategy-param", "powered.power=3", *FAST,
                 "--out", str(tmp_path / "a")]) == 0
    assert set(powered.applied) == {3.0}
    # a --config file (TOML), a flag overriding another of its settings
    (tmp_path / "run.toml").write_text('strategies = ["powered"]\n[strategy_params.powered]\npower = 5\n')
    powered.applied.clear()
    assert main(["run", "--config", str(tmp_path / "run.toml"), "--batch", "5", *FAST, "--out", str(tmp_path / "b")]) == 0
    assert set(powered.applied) == {5.0}
    # a sweep grid: every point carries its value to the runs it expands to
    sweep = parse_grid({"base": {"strategies": ["powered"]}, "grid": {"powered.power": [0.5, 2]}})
    assert [spec.strategy_params["power"] for p in sweep.points for spec in p.config.specs()] == [0.5, 2.0]
    # label propose
    powered.applied.clear()
    assert main(["label", "propose", "--db", str(labelled_project.path), "--strategy", "powered",
                 "--strategy-param", "power=7", "--batch", "2"]) == 0
    assert set(powered.applied) == {7.0}
    # and its invalid values are one line from each entry point
    capsys.readouterr()
    assert run_main(["run", "--strategies", "powered", "--strategy-param", "powered.power=9", *FAST,
                     "--out", str(tmp_path / "c")]) == 2
    assert "powered.power must be a number in (0, 8]; got 9" in one_error_line(capsys)


def test_every_declared_run_option_has_a_flag(monkeypatch):
    """Flags come from RUN_OPTIONS: a declared option has its flag, type and help without a CLI edit."""
    from core.cli import build_parser
    from core.engine.config import RUN_OPTIONS

    monkeypatch.setitem(RUN_OPTIONS, "warmup_rounds", Interval(int, 0, 10, default=0, help="rounds before timing"))
    run = build_parser("albench")._subparsers._group_actions[0].choices["run"]
    args = run.parse_args(["--warmup-rounds", "3"])
    assert args.warmup_rounds == 3
    assert "rounds before timing; an integer in [0, 10] (default 0)" in " ".join(run.format_help().split())


# ---- stream mode: a strategy's stream form and its parameters -----------------------------------------------


def _stream_run(tmp_path, *args) -> list:
    from core.engine.runner import run_comparison

    config = resolve({"mode": "stream", "stream_policy": "threshold", "threshold": 0.3, "rounds": 3,
                      "strategies": ["powered"]}, dict(args))
    comparison = run_comparison(config, cache=None)
    return [r.queried.tolist() for results in comparison.runs.values() for r in results]


def test_a_strategy_parameter_changes_stream_decisions(powered, tmp_path):
    """stream.py used the strategy's name as the measure and ignored its parameters."""
    low = _stream_run(tmp_path, ("powered.power", 0.5))
    high = _stream_run(tmp_path, ("powered.power", 4.0))
    assert set(powered.applied) == {0.5, 4.0}
    assert low != high


def test_a_stream_policy_is_a_run_option_not_a_strategy_parameter():
    config = RunConfig(mode="stream", strategies=("random", "entropy"), stream_policy="threshold", threshold=0.4)
    random, entropy = config.specs()
    assert entropy.strategy_params == {} and (entropy.stream_policy, entropy.threshold) == ("threshold", 0.4)
    assert random.strategy_params == {} and (random.stream_policy, random.threshold) == (None, None)


def test_a_strategy_without_a_stream_form_is_an_error_naming_those_with_one():
    with pytest.raises(ValueError) as info:
        RunConfig(mode="stream", strategies=("hybrid",))
    with_stream = [name for name, cls in STRATEGIES.items() if cls.stream]
    assert str(info.value) == f"strategies ['hybrid'] have no stream form; in stream mode choose from {with_stream}"
    assert "entropy" in with_stream and "random" in with_stream and "hybrid" not in with_stream
