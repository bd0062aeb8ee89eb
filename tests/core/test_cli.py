"""The headless CLI: outputs a user opens, and one clear line (exit 2, no cache writes) per bad input."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_example_run_writes_csvs_and_a_self_contained_chart(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--dataset", "digits", "--learner", "logistic", "--strategies", "random,entropy,hybrid",
                 "--initial", "20", "--batch", "10", "--rounds", "4", "--alpha", "0.5", "--clusters", "5",
                 "--repeats", "2", "--seed", "0", "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    captured = capsys.readouterr()
    assert "AULC gain vs random" in captured.out and "hybrid" in captured.out
    rows = list(csv.DictReader((out / "rounds.csv").open()))
    assert len(rows) == 3 * 2 * 4
    assert {"strategy", "repeat", "round", "n_labeled", "test_accuracy", "pool_accuracy", "fit_seconds",
            "select_seconds"} <= set(rows[0])
    assert [r["n_labeled"] for r in rows[:4]] == ["20", "30", "40", "50"]
    summary = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["strategy"] for r in summary] == ["random", "entropy", "hybrid"]
    assert summary[0]["gain_vs_random"] == "" and summary[1]["gain_vs_random"] != ""
    html = (out / "curves.html").read_text()
    assert "plotly" in html and "Labelled samples" in html and len(html) > 1_000_000  # plotly.js inlined


def test_undefined_values_are_empty_in_rounds_csv(tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--test-size", "0", "--strategies", "random", "--rounds", "2", "--out", str(out), "--no-cache",
                 "--quiet"]) == 0
    rows = list(csv.DictReader((out / "rounds.csv").open()))
    assert rows[0]["test_accuracy"] == "" and float(rows[0]["pool_accuracy"]) > 0


def test_help_documents_every_option():
    result = subprocess.run([sys.executable, "-m", "core", "run", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--dataset", "--learner", "--strategies", "--initial", "--batch", "--rounds", "--alpha", "--clusters",
                   "--repeats", "--seed", "--out", "--mode", "--subset", "--test-size", "--cache-dir", "--measure"):
        assert option in result.stdout
    top = subprocess.run([sys.executable, "-m", "core", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert top.returncode == 0
    documented = {line.split()[0].rstrip(",") for line in result.stdout.splitlines() if line.strip().startswith("--")}
    assert documented and all(option in top.stdout for option in documented)  # the top-level help has them all
    assert "--grid" in top.stdout and "--executor" in top.stdout  # and the sweep's


def test_a_cache_dir_that_is_a_file_is_an_error_and_creates_no_out_dir(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    code = run_main(["run", "--cache-dir", str(blocker), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "cache directory" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


BAD = [
    (["--dataset", "imagenet"], r"unknown dataset 'imagenet'; choose one of \["),
    (["--learner", "svm"], r"unknown learner 'svm'; choose one of \[.*'label_spreading', 'logistic'"),
    (["--strategies", "random,bold"], r"unknown strategy 'bold'; choose one of \["),
    (["--mode", "online"], r"mode must be one of \['pool', 'stream'\]; got 'online'"),
    (["--initial", "5"], r"initial must be at least the number of classes \(10\); got 5"),
    (["--initial", "2000", "--rounds", "1"], r"initial must be at most the pool size \(1347\); got 2000"),
    (["--batch", "0"], r"batch must be an integer >= 1 \(at most 10000000\); got 0"),
    (["--rounds", "0"], r"rounds must be an integer >= 1 \(at most 10000\); got 0"),
    (["--batch", "200", "--rounds", "8"], r"budget .* = 1420 is larger than the pool \(1347 samples\)"),
    (["--alpha", "0"], r"hybrid.alpha must be a number in \(0, 1\]; got 0.0"),
    (["--alpha", "1.2"], r"hybrid.alpha must be a number in \(0, 1\]; got 1.2"),
    (["--clusters", "0"], r"error: hybrid.clusters must be an integer >= 1 \(at most 10000\); got 0"),
    (["--clusters", "6"], r"clusters must be between 1 and round\(alpha\*batch\) = round\(0.5\*10\) = 5; got 6"),
    (["--test-size", "1"], r"test_size must be a number in \[0, 1\); got 1.0"),
    (["--test-size", "-0.1"], r"test_size must be a number in \[0, 1\); got -0.1"),
    (["--subset", "10"], r"subset must be an integer >= initial \(20\) \(at most 10000000\); got 10"),
    (["--measure", "gini"], r"hybrid.measure must be one of \['entropy'.*got 'gini'"),
    (["--learner-param", "gamma=1"], r"unknown parameter\(s\) \['gamma'\] for learner 'logistic'"),
    (["--batch", "ten"], r"argument --batch: invalid int value: 'ten'"),
    (["--target", "2"], r"target must be a number in \(0, 1\]; got 2.0"),
    (["--target", "nan"], r"target must be a number in \(0, 1\]; got nan"),
    (["--learner-param", "C=-1"], r"learner_params.C must be a number > 0; got -1"),
    (["--learner-param", "max_iter=abc"], r"learner_params.max_iter must be an integer >= 1 \(at most 100000\); got 'abc'"),
    (["--learner", "label_spreading", "--learner-param", "kernel=foo"], r"kernel must be one of \['knn', 'rbf'\]"),
    (["--learner", "cnn", "--learner-param", "epochs=0"], r"learner_params.epochs must be an integer >= 1 \(at most 10000\); got 0"),
    (["--image-size", "16"], r"image_size: dataset 'digits' takes no image_size"),
    (["--data-dir", "/somewhere"], r"data_dir: dataset 'digits' takes no data_dir"),
    # issue 15, item 8: numpy seeds are 32-bit, and repeat r uses seed + r
    (["--seed", str(2**32)], r"seed must be an integer in \[0, 4294967295\]; got 4294967296"),
    (["--seed", "4294967295", "--repeats", "2"], r"seed \+ repeats - 1 must be at most 4294967295 .*lower seed to at most 4294967294"),
    # item 10: every learner setting names itself and what is allowed
    (["--learner", "cnn", "--learner-param", "lr=nan"], r"learner_params.lr must be a number in \(0, 10\]; got 'nan'"),
    (["--learner", "cnn", "--learner-param", "lr=NaN"], r"learner_params.lr must be a number in \(0, 10\]; got nan"),
    (["--learner", "cnn", "--learner-param", "channels=a,b"], r"learner_params.channels must be three positive integers \(at most 4096 each\).*got 'a,b'"),
    (["--learner", "cnn", "--learner-param", "channels=4"], r"channels must be three positive integers.*got 4$"),
    (["--learner", "cnn", "--learner-param", "dropout=Infinity"], r"learner_params.dropout must be a number in \[0, 1\); got inf"),
    (["--learner-param", "C=1" + "0" * 400], r"learner_params.C must be a number > 0; got 10+$"),
    (["--learner", "label_spreading", "--learner-param", "kernel=knn", "--learner-param", "n_neighbors=2000", "--subset", "60", "--rounds", "2"],
     r"learner_params.n_neighbors must be at most the pool size \(60 samples\) with kernel='knn'; got 2000"),
    # item 11: options the chosen strategies do not use are checked all the same; empty paths are errors
    (["--strategies", "random", "--alpha", "nan"], r"hybrid.alpha must be a number in \(0, 1\]; got nan"),
    (["--threshold", "inf"], r"threshold must be a number in \[0, 1\]; got inf"),
    (["--stream-policy", "sometimes"], r"stream_policy must be one of \['budget', 'threshold'\]; got 'sometimes'"),
    (["--strategies", "random", "--clusters", "-3"], r"clusters must be an integer >= 1 \(at most 10000\); got -3"),
    (["--data-dir", ""], r"data_dir must be a directory path \(not empty\); got ''"),
    (["--dataset", "folder", "--data-dir", " "], r"data_dir must be a directory path \(not empty\); got ' '"),
    # item 12: size-like options are bounded before anything is built or allocated
    (["--repeats", "99999999999999999999999"], r"repeats must be an integer >= 1 \(at most 1000\); got 99999999999999999999999"),
    (["--rounds", "100000"], r"rounds must be an integer >= 1 \(at most 10000\); got 100000"),
    (["--dataset", "folder", "--image-size", "100000", "--data-dir", "/somewhere"], r"image_size must be an integer in \[8, 512\]; got 100000"),
    (["--learner", "cnn", "--learner-param", "channels=1000000,1,1"], r"channels must be three positive integers \(at most 4096 each\)"),
    (["--learner", "cnn", "--learner-param", "threads=100000"], r"threads must be an integer >= 0 \(at most \d+\); got 100000"),
    (["--learner", "cnn", "--learner-param", "hidden=100000"], r"hidden must be an integer >= 1 \(at most 65536\)"),
    (["--learner", "cnn", "--learner-param", "mc_samples=1001"], r"mc_samples must be an integer >= 0 \(at most 1000\)"),
    (["--learner", "cnn", "--learner-param", "channels=4096,8,8", "--learner-param", "eval_batch_size=65536"],
     r"learner_params: channels=4096,8,8, .* need about [\d.]+ GiB; the cnn allows at most [\d.]+ GiB here: lower channels"),
]


def run_main(args) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # argparse's own errors (wrong types)
        return exc.code


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    cache_dir, out = tmp_path / "cache", tmp_path / "out"
    code = run_main(["run", *args, "--cache-dir", str(cache_dir), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error:" in lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert not cache_dir.exists()


@pytest.mark.parametrize("option", ["--out", "--cache-dir"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_directory_option_is_an_error_not_the_current_directory(tmp_path, capsys, monkeypatch, option, value):
    """Issue 15, item 11: --out "" wrote into the current directory."""
    monkeypatch.chdir(tmp_path)
    others = {"--out": str(tmp_path / "out"), "--cache-dir": str(tmp_path / "cache")}
    others[option] = value
    code = run_main(["run", "--rounds", "2", "--strategies", "random", *(x for kv in others.items() for x in kv)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"python -m core run: error: {option} must be a directory path; got {value!r} (use . for the current directory)"
    assert list(tmp_path.iterdir()) == []


def test_bad_input_exit_status_from_a_real_process(tmp_path):
    result = subprocess.run([sys.executable, "-m", "core", "run", "--strategies", "bold", "--cache-dir", str(tmp_path / "c")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("python -m core run: error: unknown strategy 'bold'")
    assert not (tmp_path / "c").exists()


def test_unwritable_out_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    code = run_main(["run", "--out", str(blocker / "out"), "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [err.strip()]
    assert "--out" in err and "not writable" in err
    assert not (tmp_path / "cache").exists()


def test_corrupt_cache_record_is_reported_on_the_command_line(tmp_path):
    args = ["run", "--strategies", "entropy", "--rounds", "3", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o"),
            "--quiet"]
    assert main(args) == 0
    record = next((tmp_path / "c" / "runs").glob("*/round_0001.npz"))
    record.write_bytes(record.read_bytes()[:100])
    result = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    assert "round_0001.npz is corrupt" in result.stderr and "recomputed" in result.stderr


def test_a_cached_rerun_leaves_an_unchanged_chart_alone_and_redraws_a_changed_one(tmp_path):
    args = ["run", "--strategies", "random,entropy", "--rounds", "3", "--subset", "300", "--quiet",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")]
    chart = tmp_path / "out" / "curves.html"
    assert run_main(args) == 0
    first = chart.stat()
    assert run_main(args) == 0
    assert (chart.stat().st_ino, chart.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)  # not rewritten
    assert run_main([*args, "--rounds", "4"]) == 0  # one more point on every curve
    assert chart.stat().st_ino != first.st_ino
    assert "<html" in chart.read_text()[:300]


def test_a_stream_that_runs_out_before_the_budget_says_so(tmp_path, capsys):
    """Issue 15, item 6: --threshold 1 labels nothing; the run ends after round 1 with a warning, not silently."""
    code = main(["run", "--mode", "stream", "--stream-policy", "threshold", "--threshold", "1", "--strategies", "random,entropy",
                 "--subset", "100", "--rounds", "3", "--quiet", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("warning: entropy")]
    assert len(warnings) == 1, err
    assert re.search(r"entropy stopped early in 1 of 1 run: seed 0 after 1 of 3 rounds \(20 of 40 labels\); "
                     r"the stream ran out of arrivals: .*--threshold 1 .*lower --threshold", warnings[0]), warnings[0]
    assert "warning: random" not in err  # the random stream spends its budget here
    assert (tmp_path / "o" / "rounds.csv").exists()


def test_a_complete_run_prints_no_early_stop_warning(tmp_path, capsys):
    assert main(["run", "--mode", "stream", "--strategies", "entropy", "--subset", "100", "--rounds", "3", "--quiet",
                 "--no-cache", "--out", str(tmp_path / "o")]) == 0
    assert "stopped early" not in capsys.readouterr().err


def test_options_no_strategy_uses_do_not_change_the_comparison_key(tmp_path, capsys):
    """Issue 15, item 11: --alpha without the hybrid runs the same comparison: same key, one manifest."""
    common = ["run", "--strategies", "random", "--rounds", "2", "--subset", "60", "--quiet", "--cache-dir", str(tmp_path / "c")]
    assert main([*common, "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--alpha", "0.3", "--threshold", "0.9", "--out", str(tmp_path / "b")]) == 0
    assert len(list((tmp_path / "c" / "comparisons").glob("*.json"))) == 1


def test_a_learner_error_found_while_fitting_is_one_line_and_writes_no_output(tmp_path, capsys, monkeypatch):
    from core.learners import LearnerError
    from core.learners.label_spreading import LabelSpreadingLearner

    def underflow(self, X, y, *, X_unlabeled=None):
        raise LearnerError(f"label_spreading: the rbf kernel with gamma={self.gamma} underflows on this data")

    monkeypatch.setattr(LabelSpreadingLearner, "fit", underflow)
    code = main(["run", "--learner", "label_spreading", "--strategies", "entropy", "--rounds", "2", "--subset", "60",
                 "--quiet", "--no-cache", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert [line for line in err.splitlines() if "error" in line] == [
        "python -m core run: error: learner_params: label_spreading: the rbf kernel with gamma=0.25 underflows on this data"]
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def _sweep_error(tmp_path, capsys, *args) -> str:
    code = run_main(["sweep", *args, "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m core sweep: error: "), err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
    return lines[0]


def test_sweep_grid_file_problems_are_one_line(tmp_path, capsys):
    """Issue 15, item 8: a directory, a missing file, invalid TOML or JSON of the wrong shape."""
    assert "grid file " + repr(str(tmp_path)) + " is a directory; give a TOML file" in _sweep_error(tmp_path, capsys, "--grid", str(tmp_path))
    assert "does not exist" in _sweep_error(tmp_path, capsys, "--grid", str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid]\nalpha = [0.25,\n")
    assert "bad.toml' is not valid TOML" in _sweep_error(tmp_path, capsys, "--grid", str(bad))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00grid")
    assert "binary.toml' is not valid TOML" in _sweep_error(tmp_path, capsys, "--grid", str(binary))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    assert "expected a table with keys ['name', 'skip_invalid'" in _sweep_error(tmp_path, capsys, "--grid", str(listed))
    flag = tmp_path / "flag.toml"
    flag.write_text('skip_invalid = "no"\n[grid]\nalpha = [0.5]\n')
    assert "skip_invalid must be true or false; got 'no'" in _sweep_error(tmp_path, capsys, "--grid", str(flag))
    assert "--grid must be a grid file path" in _sweep_error(tmp_path, capsys, "--grid", "", "--vary", "alpha=0.5")


@pytest.mark.parametrize("args, message", [
    (["--vary", "seed=4294967296"], r"seed=4294967296: seed must be an integer in \[0, 4294967295\]"),
    (["--vary", "seed=0,4294967295", "--repeats", "2"], r"seed=4294967295: seed \+ repeats - 1 must be at most 4294967295"),
    (["--vary", "alpha=NaN"], r"alpha=nan: hybrid.alpha must be a number in \(0, 1\]; got nan"),
    (["--vary", "alpha=0.5", "--jobs", "100000"], r"jobs must be an integer >= 1 \(at most \d+: 4 per core\); got 100000"),
    (["--vary", "alpha=0.5", "--out", ""], r"--out must be a directory path; got ''"),
    (["--vary", "learner_params.C=0.5", "--repeats", "5000"], r"repeats must be an integer >= 1 \(at most 1000\)"),
], ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_bad_sweep_options_are_one_line_exit_2(tmp_path, capsys, args, message):
    code = run_main(["sweep", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and re.search(message, err), err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_errors_name_the_command_the_user_typed(tmp_path):
    """Issue 21 item 10: `albench run` errors started "python -m core run: error:"."""
    albench = Path(sys.executable).with_name("albench")
    result = subprocess.run([str(albench), "run", "--strategies", "bold", "--cache-dir", str(tmp_path / "c")],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("albench run: error: unknown strategy 'bold'"), result.stderr
    usage = subprocess.run([str(albench), "run", "--rounds", "x"], cwd=tmp_path, capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stderr.startswith("albench run: error: argument --rounds"), usage.stderr


def test_a_reader_that_leaves_early_gets_no_broken_pipe_traceback():
    """Issue 21 item 10: `albench learners --json | head -1` ended in a BrokenPipeError traceback."""
    albench = Path(sys.executable).with_name("albench")
    result = subprocess.run(f"'{albench}' learners --json | head -1", shell=True, cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout == "[\n"
    assert result.stderr == "", result.stderr


@pytest.mark.parametrize("command, expected", [
    (["report", "nosuchrun"], "albench report: error: "),
    (["label", "status", "--db", "{tmp}/missing.sqlite"], "albench label status: error: "),
], ids=["report", "label"])
def test_report_and_label_errors_name_the_command_the_user_typed(tmp_path, monkeypatch, capsys, command, expected):
    """Issue 21 item 10: `report` and `label` errors still said "python -m core ..." when the user typed `albench`."""
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "argv", [str(Path(sys.executable).with_name("albench")),
                                      *(a.replace("{tmp}", str(tmp_path)) for a in command)])
    assert run_main(None) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and len(err.strip().splitlines()) == 1, err


def test_a_ray_address_with_no_cluster_is_one_line_naming_ray(tmp_path, capsys):
    """Issue 22.5: `run --ray-address` to a port where no Ray answers fails at once, in one line, nothing written."""
    code = run_main(["run", "--strategies", "random", "--rounds", "2", "--no-cache", "--quiet",
                     "--ray-address", "127.0.0.1:1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(
        "python -m core run: error: ray_address: no Ray cluster reachable at '127.0.0.1:1'"), err
    assert not (tmp_path / "out").exists()
