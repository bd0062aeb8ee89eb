"""Fuzz `python -m core run` with hostile values of its real options (issue 15, "done when").

A seeded generator mutates a small, valid digits run (tiny pool, two rounds, so a case that
is valid finishes in about a second) with values such as nan, inf, -1, 0, 2**64, "", "abc",
huge integers, unknown names and bad learner settings. Whatever comes out, the CLI must exit
0 or 2, never print a traceback, and a rejected case (2) must be one line on stderr and
leave --out unwritten.
"""

from __future__ import annotations

import argparse
import random

from core.cli import build_parser, main
from core.learners import LEARNERS, learner_param_names

N_CASES = 100
HOSTILE = ["nan", "NaN", "inf", "Infinity", "-inf", "-1", "0", "1", "0.5", str(2**64), "", " ", "abc",
           "99999999999999999999999", "1e308", "-0", "1,2,3", "[1, 2]", "true", "{}", "1" + "0" * 400]
NAMES = {"--dataset": ["digits", "imagenet", "mnist", "folder"],
         "--strategies": ["random", "entropy,hybrid", "random,random", "bald", ",", "hybrid"],
         "--mode": ["pool", "stream", "online"], "--measure": ["entropy", "margin"],
         "--stream-policy": ["budget", "threshold", "sometimes"]}
# Valid values at the edges of what is allowed, so that the success path is fuzzed too.
EDGES = {"--alpha": ["1", "1e-9"], "--threshold": ["0", "1"], "--batch": ["1", "20"], "--test-size": ["0", "0.9"],
         "--seed": ["4294967295", "0"], "--repeats": ["2"], "--clusters": ["1"], "--initial": ["10", "60"],
         "--target": ["1", "1e-9"], "--subset": ["80", "1347"], "--rounds": ["1", "3"]}
UNKNOWN_SETTINGS = ["gama", "", "C.x", "lr lr"]
# The cnn trains for seconds even on digits: a case that picks it also gets settings that keep a valid fit tiny.
SMALL_CNN = ["epochs=1", "min_steps=0", "channels=4,4,4", "hidden=8"]


def run_options() -> dict[str, bool]:
    """Option string -> whether it takes a value, read from the real `run` parser."""
    parser = build_parser()
    run = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["run"]
    return {a.option_strings[-1]: a.nargs != 0 for a in run._actions
            if a.option_strings and a.dest not in ("help", "out", "cache_dir")}


def generate_cases(n: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    options = run_options()
    every_setting = sorted({p for name in LEARNERS.names() for p in learner_param_names(name)})
    cases = []
    for _ in range(n):
        learner = rng.choices(["logistic", "label_spreading", "cnn"], weights=[6, 2, 2])[0]
        args: dict[str, list[str]] = {"--subset": ["60"], "--rounds": ["2"], "--strategies": ["random,entropy"],
                                      "--learner": [learner]}
        params: list[str] = SMALL_CNN[:] if learner == "cnn" else []
        mutations = [rng.choice(sorted(options)) for _ in range(rng.choice([1, 1, 2, 3]))]
        if rng.random() < 0.35:  # one option among ~20, but the one with the most values to check
            mutations.append("--learner-param")
        for option in mutations:
            if option == "--learner-param":
                # mostly a setting the chosen learner has, so its value checks are what is exercised
                names = learner_param_names(learner) if rng.random() < 0.8 else every_setting + UNKNOWN_SETTINGS
                name = rng.choice(names)
                params.append(f"{name}={rng.choice(HOSTILE)}" if rng.random() < 0.95 else name)
            elif option == "--learner":
                continue  # chosen above, with settings that keep a valid cnn fit tiny
            elif not options[option]:
                args[option] = []
            elif option in NAMES and rng.random() < 0.6:
                args[option] = [rng.choice(NAMES[option])]
            elif option in EDGES and rng.random() < 0.4:
                args[option] = [rng.choice(EDGES[option])]
            else:
                args[option] = [rng.choice(HOSTILE)]
        if rng.random() < 0.05:
            args[rng.choice(["--bogus", "--alpah"])] = ["1"]
        argv = ["run", "--quiet"] + [x for option, values in args.items() for x in (option, *values)]
        cases.append(argv + [x for p in params for x in ("--learner-param", p)])
    return cases


def test_the_generator_is_seeded_bounded_and_mostly_hostile():
    cases = generate_cases(N_CASES)
    assert cases == generate_cases(N_CASES) and len(cases) == N_CASES
    hostile = {"nan", "NaN", "inf", "Infinity", "-inf", "-1", str(2**64), "", " ", "abc", "99999999999999999999999"}
    values = [{token.partition("=")[2] if token.count("=") == 1 else token for token in case} for case in cases]
    assert sum(bool(v & hostile) for v in values) > N_CASES // 2


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors (a word where a number belongs)
        return exc.code


def test_hostile_command_lines_exit_0_or_2_without_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ALBENCH_OFFLINE", "1")  # --dataset mnist must not download
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("ALBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # whatever a case writes by mistake stays in tmp_path
    outcomes = []
    for index, argv in enumerate(generate_cases(N_CASES)):
        out = tmp_path / f"out{index}"
        code = _run([*argv, "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
        err = capsys.readouterr().err
        case = " ".join(map(repr, argv))
        assert code in (0, 2), f"{case}: exit {code}\n{err}"
        assert "Traceback" not in err, f"{case}\n{err}"
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "error: " in lines[0], f"{case}\n{err}"
            assert not out.exists(), f"{case}: wrote {sorted(p.name for p in out.iterdir())}"
        else:
            assert (out / "rounds.csv").exists(), case
        outcomes.append(code)
    assert outcomes.count(0) >= 5 and outcomes.count(2) >= N_CASES // 2  # both paths exercised
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(("out", "cache"))) in ([], ["datasets"])
