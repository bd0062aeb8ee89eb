"""`python -m benchmarks scale --quick`: the CI-sized smoke run of the scale benchmark."""

from __future__ import annotations

from benchmarks.__main__ import main
from core.strategies import STRATEGIES


def test_quick_scale_run_reports_every_strategy_with_its_threads_memory_and_read_ratio(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("BENCH_SCALE_STRATEGIES", raising=False)
    monkeypatch.setenv("BENCH_SCALE_DIR", str(tmp_path))
    monkeypatch.setenv("BENCH_THREADS", "1")
    assert main(["scale", "--quick"]) == 0
    table = capsys.readouterr().out.split("## scale:")[1]
    header, *lines = [line.split() for line in table.splitlines()[1:] if line.strip()]
    assert header[:4] == ["strategy", "pool", "k", "seconds"] and "x_read" in header and "threads" in header
    assert "load" in table.splitlines()[0]  # the machine's load is part of every figure
    streamed = [line for line in lines if "(float16" in line]
    rows = {line[0]: line for line in lines if line not in streamed}
    assert set(rows) == set(STRATEGIES.names())
    assert sorted(line[0] for line in streamed) == ["entropy", "hybrid", "margin_density", "random"]
    for name, line in [*rows.items(), *((line[0] + " streamed", line) for line in streamed)]:
        assert "blas" in line and line[line.index("blas") + 1].rstrip(",") == "1", name
        assert not any(word.endswith("Error:") for word in line), name  # no strategy refused its size
