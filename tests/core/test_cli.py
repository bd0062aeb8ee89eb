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
    (["--strategies", "random,bald"], r"unknown strategy 'bald'; choose one of \["),
    (["--mode", "online"], r"unknown mode 'online'; choose one of \['pool', 'stream'\]"),
    (["--initial", "5"], r"initial must be at least the number of classes \(10\); got 5"),
    (["--initial", "2000", "--rounds", "1"], r"initial must be at most the pool size \(1347\); got 2000"),
    (["--batch", "0"], r"batch must be an integer >= 1; got 0"),
    (["--rounds", "0"], r"rounds must be an integer >= 1; got 0"),
    (["--batch", "200", "--rounds", "8"], r"budget .* = 1420 is larger than the pool \(1347 samples\)"),
    (["--alpha", "0"], r"alpha must be in \(0, 1\]; got 0.0"),
    (["--alpha", "1.2"], r"alpha must be in \(0, 1\]; got 1.2"),
    (["--clusters", "0"], r"error: clusters must be an integer >= 1; got 0"),
    (["--clusters", "6"], r"clusters must be between 1 and round\(alpha\*batch\) = round\(0.5\*10\) = 5; got 6"),
    (["--test-size", "1"], r"test_size must be in \[0, 1\); got 1.0"),
    (["--test-size", "-0.1"], r"test_size must be in \[0, 1\); got -0.1"),
    (["--subset", "10"], r"subset must be an integer >= initial \(20\); got 10"),
    (["--measure", "gini"], r"unknown measure 'gini'; choose one of \['entropy'"),
    (["--learner-param", "gamma=1"], r"unknown parameter\(s\) \['gamma'\] for learner 'logistic'"),
    (["--batch", "ten"], r"argument --batch: invalid int value: 'ten'"),
    (["--target", "2"], r"target must be an accuracy in \(0, 1\]; got 2.0"),
    (["--target", "nan"], r"target must be an accuracy in \(0, 1\]; got nan"),
    (["--learner-param", "C=-1"], r"learner_params: C must be a number > 0; got -1"),
    (["--learner-param", "max_iter=abc"], r"learner_params: max_iter must be an integer >= 1; got 'abc'"),
    (["--learner", "label_spreading", "--learner-param", "kernel=foo"], r"kernel must be one of \['knn', 'rbf'\]"),
    (["--learner", "cnn", "--learner-param", "epochs=0"], r"learner_params: epochs must be an integer >= 1; got 0"),
    (["--image-size", "16"], r"image_size: dataset 'digits' takes no image_size"),
    (["--data-dir", "/somewhere"], r"data_dir: dataset 'digits' takes no data_dir"),
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


def test_bad_input_exit_status_from_a_real_process(tmp_path):
    result = subprocess.run([sys.executable, "-m", "core", "run", "--strategies", "bald", "--cache-dir", str(tmp_path / "c")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("python -m core run: error: unknown strategy 'bald'")
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
