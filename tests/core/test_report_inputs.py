"""`report` under hostile inputs and careless --out: rounds.csv values out of range, spreadsheet formulas
in names, an --out that holds someone's files or is the filesystem root."""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import pytest

from core.cli import main as cli_main
from core.present.report import add_report_parser, cmd_report

RUN = ["run", "--dataset", "digits", "--subset", "200", "--initial", "20", "--batch", "10", "--rounds", "3",
       "--repeats", "2", "--quiet", "--strategies", "random,entropy"]
FAST = ["--no-images", "--ceiling", "never"]


@pytest.fixture(scope="module")
def one_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report-inputs")
    assert cli_main([*RUN, "--cache-dir", str(root / "cache"), "--out", str(root / "a")]) == 0
    return root / "a"


def report(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    return cmd_report(parser.parse_args(["report", *argv]))


def _copy(run: Path, tmp_path: Path, edit=None) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    if edit is not None:
        rows = list(csv.reader((folder / "rounds.csv").open()))
        edit(rows)
        with (folder / "rounds.csv").open("w", newline="") as f:
            csv.writer(f).writerows(rows)
    return folder


def test_report_csvs_neutralise_spreadsheet_formulas(one_run, tmp_path, capsys):
    evil = "=HYPERLINK(\"http://x\",\"y\")"

    def rename(rows):
        for row in rows[1:]:
            row[0] = evil if row[0] == "entropy" else row[0]

    folder = _copy(one_run, tmp_path, rename)
    out = tmp_path / "report"
    assert report(str(folder), "--out", str(out), "--cache-dir", str(tmp_path / "empty-cache"), *FAST) == 0
    cells = [cell for path in out.glob("*.csv") for row in csv.reader(path.open()) for cell in row]
    assert "'" + evil in cells or any(cell.startswith("'" + evil) for cell in cells)
    assert not [c for c in cells if c.startswith(("=", "@", "\t", "\r"))]
    for cell in cells:  # + and - only where the cell is a number
        if cell.startswith(("+", "-")):
            float(cell)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize("column, value, expected", [
    ("test_accuracy", "1.5", "a number in [0, 1]"), ("test_accuracy", "-3", "a number in [0, 1]"),
    ("pool_accuracy", "NaN", "a number in [0, 1]"), ("test_macro_f1", "inf", "a number in [0, 1]"),
    ("n_labeled", "1e300", "an integer in [0, 1000000000]"), ("round", "-1", "an integer"),
    ("fit_seconds", "-2", "a non-negative number of seconds")])
def test_report_refuses_rounds_csv_values_out_of_range_naming_line_and_column(one_run, tmp_path, capsys, column,
                                                                             value, expected):
    def damage(rows):
        rows[3][rows[0].index(column)] = value

    folder = _copy(one_run, tmp_path, damage)
    out = tmp_path / "report"
    assert report(str(folder), "--out", str(out), *FAST) == 2
    line = _error_line(capsys)
    assert f"line 4 column {column}: {value!r} is not {expected}" in line, line
    assert not out.exists()


def test_report_refuses_a_duplicate_round(one_run, tmp_path, capsys):
    folder = _copy(one_run, tmp_path, lambda rows: rows.append(list(rows[2])))
    assert report(str(folder), "--out", str(tmp_path / "report"), *FAST) == 2
    line = _error_line(capsys)
    assert "columns strategy, repeat, round" in line and "appears twice" in line


def test_report_out_refuses_a_folder_of_other_files_unless_forced(one_run, tmp_path, capsys):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.csv").write_text("my data")
    assert report(str(one_run), "--out", str(out), *FAST) == 2
    line = _error_line(capsys)
    assert "not empty and holds no previous report" in line and "--force" in line
    assert sorted(p.name for p in out.iterdir()) == ["thesis.csv"]
    assert report(str(one_run), "--out", str(out), "--force", *FAST) == 0
    assert (out / "thesis.csv").read_text() == "my data" and (out / "report.html").exists()
    capsys.readouterr()
    assert report(str(one_run), "--out", str(out), *FAST) == 0  # a previous report is rewritten without --force


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_report_out_refuses_the_filesystem_root(one_run, capsys, monkeypatch, force):
    import core.engine.cache

    real = core.engine.cache.atomic_write_bytes

    def guarded(path, data):  # should the refusal fail, the test still writes nothing into /
        assert Path(path).resolve().parent != Path("/"), f"the report wrote {path}"
        real(path, data)

    monkeypatch.setattr(core.engine.cache, "atomic_write_bytes", guarded)
    assert report(str(one_run), "--out", "/", *force, *FAST) == 2
    assert "filesystem root" in _error_line(capsys)
    assert not Path("/report.html").exists()
