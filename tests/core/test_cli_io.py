"""The command line when the disk says no, when the cache is read-only, and on cached reruns."""

from __future__ import annotations

import errno

import pytest

import core.engine.cache
import core.cli
from core.cli import main

ARGS = ["run", "--strategies", "random,entropy", "--initial", "12", "--batch", "4", "--rounds", "3", "--subset", "150",
        "--quiet"]


def _run(tmp_path, capsys, *extra, out="out"):
    code = main([*ARGS, "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / out), *extra])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EACCES])
def test_a_disk_that_fills_or_turns_read_only_mid_run_is_one_line(tmp_path, capsys, monkeypatch, error):
    real, calls = core.engine.cache.atomic_write_bytes, []

    def failing(path, data):
        calls.append(path)
        if path.name.startswith("round_0001"):
            raise OSError(error, "No space left on device" if error == errno.ENOSPC else "Permission denied", str(path))
        return real(path, data)

    monkeypatch.setattr(core.engine.cache, "atomic_write_bytes", failing)
    code, err = _run(tmp_path, capsys)
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("python -m core run: error: cannot write the results (") and "rerun to resume" in lines[-1]
    monkeypatch.setattr(core.engine.cache, "atomic_write_bytes", real)
    assert _run(tmp_path, capsys)[0] == 0  # room again: the rerun resumes and finishes


def test_a_finished_comparison_reads_from_a_read_only_cache(tmp_path, capsys, monkeypatch):
    assert _run(tmp_path, capsys)[0] == 0

    def read_only(*args, **kwargs):
        raise PermissionError("cache directory is not writable (Read-only file system)")

    monkeypatch.setattr(core.engine.cache.Cache, "check_writable", read_only)
    code, err = _run(tmp_path, capsys, out="again")
    assert code == 0, err
    assert (tmp_path / "again" / "rounds.csv").read_text() == (tmp_path / "out" / "rounds.csv").read_text()
    code, err = _run(tmp_path, capsys, "--rounds", "4", out="more")
    assert code == 2 and "not writable" in err  # a round to compute: the read-only cache is an error


def test_a_cached_rerun_into_a_new_folder_copies_the_chart_without_plotly(tmp_path, capsys, monkeypatch):
    assert _run(tmp_path, capsys)[0] == 0

    def no_plotly(*args, **kwargs):
        raise AssertionError("the chart was redrawn")

    import core.present.figures

    monkeypatch.setattr(core.present.figures, "learning_curves", no_plotly)
    assert _run(tmp_path, capsys, out="new")[0] == 0
    assert (tmp_path / "new" / "curves.html").read_bytes() == (tmp_path / "out" / "curves.html").read_bytes()


def test_a_warning_repeated_by_every_run_is_printed_once(tmp_path, capsys):
    code, err = _run(tmp_path, capsys, "--learner-param", "max_iter=1", "--repeats", "2")
    assert code == 0
    assert err.count("lbfgs did not converge") == 1


def test_report_is_a_subcommand(tmp_path, capsys):
    code = main(["report", "nosuchrun", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "rep")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and not (tmp_path / "rep").exists()
