"""Verdict statistics: against scipy on fixed inputs, and on constructed comparisons with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.analysis import verdicts as v
from core.analysis.metrics import aulc

COUNTS = [20, 30, 40, 50, 60, 70, 80, 90, 100, 110]


def make_rounds(offsets: dict[str, float] | None = None, *, repeats: int = 10, counts=COUNTS, noise: float = 0.01,
                curves: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """A comparison table as Comparison.frame() gives it: a shared per-repeat curve plus, per strategy,
    an offset (or a curve of its own) and independent noise."""
    rng = np.random.default_rng(seed)
    offsets = offsets if offsets is not None else {"random": 0.0, "entropy": 0.0}
    n = np.asarray(counts, dtype=float)
    rows = []
    for repeat in range(repeats):
        shared = 0.5 + 0.4 * (n - n[0]) / max(n[-1] - n[0], 1) + rng.normal(0, 0.02)
        for strategy, offset in offsets.items():
            curve = curves[strategy](n) if curves and strategy in curves else shared + offset
            values = np.clip(curve + rng.normal(0, noise, n.size), 0, 1) if noise else curve
            for r, (count, value) in enumerate(zip(counts, values)):
                rows.append({"strategy": strategy, "repeat": repeat, "seed": repeat, "round": r, "n_labeled": count,
                             "test_accuracy": float(value), "pool_accuracy": float(value)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- against scipy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paired_t_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0.8, 0.05, 7), rng.normal(0.78, 0.05, 7)
    t, p = v.paired_t(a - b)
    expected = stats.ttest_rel(a, b)
    assert t == pytest.approx(expected.statistic, rel=1e-10)
    assert p == pytest.approx(expected.pvalue, rel=1e-10)


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy on a constant sample
def test_paired_t_edge_cases():
    assert all(math.isnan(x) for x in v.paired_t(np.array([0.3])))
    assert v.paired_t(np.zeros(5)) == (0.0, 1.0)  # no difference at all: not significant
    t, p = v.paired_t(np.full(4, 0.02))  # a constant difference: t infinite, as scipy says
    assert math.isinf(t) and p == 0.0 == stats.ttest_1samp(np.full(4, 0.02), 0).pvalue


def test_holm_matches_hand_computation():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert v.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = v.holm([0.2, math.nan, 0.9])  # NaN is not a test: m = 2
    assert adjusted[0] == pytest.approx(0.4) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.9)
    assert v.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


def test_difference_table_matches_scipy_per_label_count():
    rounds = make_rounds({"random": 0.0, "entropy": 0.02}, repeats=6, counts=[20, 30, 40])
    table = v.difference_table(rounds, "test_accuracy")
    assert list(table.strategy.unique()) == ["entropy"]
    for row in table.itertuples():
        a = rounds[(rounds.strategy == "entropy") & (rounds.n_labeled == row.n_labeled)].sort_values("repeat")
        b = rounds[(rounds.strategy == "random") & (rounds.n_labeled == row.n_labeled)].sort_values("repeat")
        diff = a.test_accuracy.to_numpy() - b.test_accuracy.to_numpy()
        low, high = stats.t.interval(0.95, len(diff) - 1, loc=diff.mean(), scale=stats.sem(diff))
        assert (row.mean, row.ci_low, row.ci_high) == pytest.approx((diff.mean(), low, high), rel=1e-9)
        assert row.p_value == pytest.approx(stats.ttest_rel(a.test_accuracy, b.test_accuracy).pvalue, rel=1e-9)
        assert row.n_repeats == 6


def test_power_against_scipy_noncentral_t_and_known_sample_sizes():
    n, d = 10, 1.0
    crit = stats.t.ppf(0.975, n - 1)
    nct = stats.nct(n - 1, d * math.sqrt(n))
    assert v.paired_power(n, d) == pytest.approx(1 - nct.cdf(crit) + nct.cdf(-crit), rel=1e-9)
    # textbook (G*Power) sample sizes of a two-sided paired t-test at 80% power, alpha .05
    assert v.repeats_needed(1.0, 1.0) == 10
    assert v.repeats_needed(0.5, 1.0) == 34
    assert v.repeats_needed(-0.01, 0.02) == 34  # the sign does not matter; d = 0.5
    assert v.repeats_needed(0.2, 0.2, power=0.9) == 13
    assert v.repeats_needed(0.001, 1.0) is None  # would need more than 1000
    assert v.repeats_needed(0.0, 1.0) is None
    assert v.repeats_needed(0.05, 0.0) == 2  # no spread at all: the smallest test decides


def test_kendall_stability_is_the_mean_of_scipys_tau_over_repeat_pairs():
    scores = pd.DataFrame([[0.80, 0.82, 0.79], [0.81, 0.80, 0.78], [0.75, 0.83, 0.70], [0.7, 0.7, 0.7]],
                          columns=["random", "entropy", "hybrid"])
    rows = scores.to_numpy()[:3]  # the last repeat ties everything: tau undefined, left out
    expected = np.mean([stats.kendalltau(rows[i], rows[j]).statistic for i in range(3) for j in range(i + 1, 3)])
    tau, pairs = v.kendall_stability(scores)
    assert pairs == 3 and tau == pytest.approx(expected)
    assert v.kendall_stability(scores.iloc[:1]) == (pytest.approx(math.nan, nan_ok=True), 0)


def test_partial_aulc_is_the_mean_level_of_the_interpolated_curve():
    n = np.array([20, 30, 40, 50, 60, 70, 80, 90, 100, 110])
    assert v.partial_aulc(n, n / 100, 35, 85) == pytest.approx((35 + 85) / 2 / 100)  # a line: the midpoint
    acc = np.sqrt(n) / 12
    assert v.partial_aulc(n, acc) == pytest.approx(aulc(n, acc))
    # the regimes' areas add up to the whole one (weighted by their widths)
    parts = [v.partial_aulc(n, acc, lo, hi) * (hi - lo) for lo, hi in v.regime_bounds(20, 110)]
    assert sum(parts) / 90 == pytest.approx(aulc(n, acc))


def test_regime_bounds_thirds_cut_points_and_bad_cut_points():
    assert v.regime_bounds(20, 110) == [(20, 50), (50, 80), (80, 110)]
    assert v.regime_bounds(20, 110, [60, 90]) == [(20, 60), (60, 90), (90, 110)]
    assert v.parse_cuts(" 60; 90 ") == [60, 90] and v.parse_cuts("") is None
    with pytest.raises(ValueError, match="strictly between 20 and 110"):
        v.regime_bounds(20, 110, [10])
    with pytest.raises(ValueError, match="must increase"):
        v.regime_bounds(20, 110, [90, 60])
    with pytest.raises(ValueError, match="separated by commas"):
        v.parse_cuts("sixty")


# --------------------------------------------------------------------------- constructed cases


def test_identical_strategies_give_no_significant_cell():
    rounds = make_rounds({"random": 0.0, "entropy": 0.0, "hybrid": 0.0}, noise=0.0)
    matrix = v.pairwise_matrix(rounds, "test_accuracy")
    assert int(matrix.wins.to_numpy().sum()) == 0
    assert np.nanmax(matrix.share.to_numpy()) == 0.0
    assert "Holm-Bonferroni" in matrix.correction and "label counts" in matrix.correction
    assert v.verdict(rounds, "test_accuracy").kind == "none"


def test_noisy_equal_strategies_stay_mostly_insignificant():
    rounds = make_rounds({"random": 0.0, "entropy": 0.0}, repeats=10, noise=0.02)
    matrix = v.pairwise_matrix(rounds, "test_accuracy")
    assert int(matrix.wins.to_numpy().sum()) == 0  # Holm keeps the family-wise error at 5% per pair


def test_a_fixed_offset_is_significant_everywhere_once_repeats_suffice():
    rounds = make_rounds({"random": 0.0, "entropy": 0.05}, repeats=10, noise=0.01)
    matrix = v.pairwise_matrix(rounds, "test_accuracy")
    assert matrix.share.loc["entropy", "random"] == 1.0
    assert matrix.share.loc["random", "entropy"] == 0.0
    assert matrix.tested.loc["entropy", "random"] == len(COUNTS)
    few = v.pairwise_matrix(make_rounds({"random": 0.0, "entropy": 0.05}, repeats=1), "test_accuracy")
    assert few.tested.loc["entropy", "random"] == 0 and math.isnan(few.share.loc["entropy", "random"])


def test_the_shared_initial_set_is_left_out_of_the_matrix():
    rounds = make_rounds({"random": 0.0, "entropy": 0.05}, repeats=5)
    first = rounds.n_labeled == 20
    rounds.loc[first, "test_accuracy"] = rounds.loc[first].groupby("repeat")["test_accuracy"].transform("first")
    matrix = v.pairwise_matrix(rounds, "test_accuracy")
    assert matrix.tested.loc["entropy", "random"] == len(COUNTS) - 1
    assert any("20 labels" in note and "initial" in note for note in matrix.notes)


def test_difference_and_rank_tables_of_an_offset():
    rounds = make_rounds({"random": 0.0, "entropy": 0.03, "hybrid": 0.06}, repeats=8, noise=0.005)
    diffs = v.difference_table(rounds, "test_accuracy", baseline="random")
    assert diffs[diffs.strategy == "hybrid"]["mean"].to_numpy() == pytest.approx(0.06, abs=0.01)
    ranks, tau, pairs = v.rank_table(v.aulc_by_repeat(rounds, "test_accuracy"))
    assert list(ranks.strategy) == ["hybrid", "entropy", "random"]
    assert list(ranks.mean_rank) == [1.0, 2.0, 3.0]
    assert tau == 1.0 and pairs == 8 * 7 // 2
    assert "stable" in v.tau_sentence(tau, pairs, 8)


def test_a_ranking_flip_is_said_in_one_sentence():
    curves = {"entropy": lambda n: 0.9 - 0.001 * (n - 20),  # best early, falls behind
              "hybrid": lambda n: 0.8 + 0.001 * (n - 20)}  # best late
    rounds = make_rounds({"random": -0.3, "entropy": 0, "hybrid": 0}, repeats=6, noise=0.005, curves=curves)
    sentence = v.regime_sentence(rounds, "test_accuracy")
    # low and middle thirds: entropy (merged into one span); high third: hybrid
    assert sentence.startswith("The ranking flips with the budget: entropy leads up to 80 labels, hybrid after 80")
    table = v.regime_table(rounds, "test_accuracy")
    leaders = table[table["rank"] == 1]
    assert list(leaders.strategy) == ["entropy", "entropy", "hybrid"]  # the middle third is entropy's by a little
    assert list(leaders.regime) == ["low: 20–50 labels", "middle: 50–80 labels", "high: 80–110 labels"]
    steady = v.regime_sentence(make_rounds({"random": 0.0, "entropy": 0.05}, repeats=6), "test_accuracy")
    assert steady.startswith("entropy leads in every budget regime") and "significant in every regime" in steady


def test_verdict_recommends_a_reliably_better_strategy_with_its_evidence():
    rounds = make_rounds({"random": 0.0, "entropy": 0.04, "hybrid": 0.0}, repeats=10, noise=0.01)
    result = v.verdict(rounds, "test_accuracy")
    assert result.kind == "recommend" and result.recommended == "entropy"
    for part in ("Recommended", "entropy", "AULC gain +0.04", "95% CI", "p < 0.001", "Holm-Bonferroni", "10 repeats"):
        assert part in result.sentence
    assert v.verdict_sentence(rounds, "test_accuracy") == result.sentence


def test_verdict_says_when_nothing_is_reliably_better_or_nothing_can_be_tested():
    flat = make_rounds({"random": 0.0, "entropy": 0.002}, repeats=4, noise=0.02)
    sentence = v.verdict_sentence(flat, "test_accuracy")
    assert sentence.startswith("No strategy is reliably better than random here")
    one = v.verdict(make_rounds({"random": 0.0, "entropy": 0.05}, repeats=1), "test_accuracy")
    assert one.kind == "untestable" and "1 repeat allows no test" in one.sentence
    absent = v.verdict(make_rounds({"entropy": 0.0, "hybrid": 0.0}), "test_accuracy")
    assert absent.kind == "no baseline" and "'random' is not part" in absent.sentence


def test_repeats_table_and_sentence():
    rounds = make_rounds({"random": 0.0, "entropy": 0.01}, repeats=5, noise=0.02)
    table = v.repeats_table(rounds, "test_accuracy", gain=0.005)
    row = table.iloc[0]
    scores = v.aulc_by_repeat(rounds, "test_accuracy")
    diff = scores["entropy"] - scores["random"]
    assert row.sd == pytest.approx(diff.std(ddof=1)) and row.gain == pytest.approx(diff.mean())
    assert row.needed_observed == v.repeats_needed(diff.mean(), diff.std(ddof=1))
    assert row.needed_chosen == v.repeats_needed(0.005, diff.std(ddof=1))
    assert v.repeats_sentence(table).startswith("Enough repeats?")
    single = v.repeats_table(make_rounds({"random": 0.0, "entropy": 0.01}, repeats=1), "test_accuracy")
    assert "no test is possible" in v.repeats_sentence(single)


def test_a_cancelled_strategy_shortens_the_paired_range():
    rounds = make_rounds({"random": 0.0, "entropy": 0.05}, repeats=4)
    rounds = rounds[~((rounds.strategy == "entropy") & (rounds.n_labeled > 80))]
    assert v.paired_table(rounds, "test_accuracy").index.get_level_values("n_labeled").max() == 80
    assert v.difference_table(rounds, "test_accuracy").n_labeled.max() == 80


# --------------------------------------------------------------------------- the ceiling


def test_ceiling_fits_all_pool_labels_once_and_is_read_back_from_the_cache(tmp_path, monkeypatch):
    from core.engine.cache import Cache
    from core.engine.config import RunConfig
    from core.datasets import load_dataset

    config = RunConfig(dataset="digits", strategies=("random",), initial=20, batch=10, rounds=2, repeats=2, subset=200)
    dataset = load_dataset("digits")
    cache = Cache(tmp_path / "cache")
    assert v.cached_ceiling(config, dataset, cache) is None
    first = v.ceiling(config, dataset, cache)
    assert list(first.repeat) == [0, 1] and list(first.n_labeled) == [200, 200]
    assert first.test_accuracy.between(0.8, 1.0).all()
    assert len(list((tmp_path / "cache" / "ceilings").glob("*.json"))) == 2

    def no_fit(*args, **kwargs):
        raise AssertionError("refitted although cached")

    monkeypatch.setattr("core.learners.build_learner", no_fit)
    again = v.ceiling(config, dataset, cache)
    pd.testing.assert_frame_equal(again.drop(columns="fit_seconds"), first.drop(columns="fit_seconds"))
    summary = v.ceiling_summary(again, "test_accuracy")
    assert summary["n_labeled"] == 200 and summary["repeats"] == 2
    assert v.ceiling_summary(again, "pool_accuracy") is None
    assert not v.ceiling_is_cheap(RunConfig(dataset="digits", learner="cnn"))


def test_the_ceiling_builds_its_learner_from_the_checked_settings(tmp_path, monkeypatch):
    """Issue 19: the ceiling rebuilt its learner from the unchecked learner_params and checked them again."""
    import core.params
    from core.engine.config import RunConfig
    from core.datasets import load_dataset

    config = RunConfig(dataset="digits", strategies=("random",), learner_params={"C": 0.5}, subset=200)
    dataset = load_dataset("digits")
    checked = []
    real = core.params.check_value
    monkeypatch.setattr(core.params, "check_value", lambda name, *a, **k: checked.append(name) or real(name, *a, **k))
    result = v.ceiling(config, dataset)
    assert checked == [] and result.test_accuracy.between(0.8, 1.0).all()


def test_a_partial_comparison_is_judged_at_the_labels_every_repeat_reached():
    """Repeat 0 of both strategies reached 110 labels, repeat 1 only 40: AULC, ranks, regimes and
    the verdict compare both repeats over 20-40 labels, and the sentence says the rest is not summarised."""
    rounds = make_rounds({"random": 0.0, "entropy": 0.05}, repeats=4)
    rounds = rounds[(rounds.repeat != 1) | (rounds.n_labeled <= 40)]
    scores = v.aulc_by_repeat(rounds, "test_accuracy")
    for repeat in range(4):
        g = rounds[(rounds.repeat == repeat) & (rounds.strategy == "random") & (rounds.n_labeled <= 40)]
        assert scores.loc[repeat, "random"] == pytest.approx(aulc(g.n_labeled, g.test_accuracy))
    assert v.pairwise_matrix(rounds, "test_accuracy").tested.loc["random", "entropy"] == 3  # 20, 30 and 40 labels
    assert all(hi <= 40 for _, _, hi, _ in v.regime_scores(rounds, "test_accuracy"))
    sentence = v.verdict_sentence(rounds, "test_accuracy")
    assert "20–40 labels" in sentence and "110" in sentence
    assert v.difference_table(rounds, "test_accuracy").n_labeled.max() == 110  # drawn, not summarised


def test_the_power_chart_stops_its_axis_and_names_a_strategy_that_needs_hundreds_of_repeats():
    """One strategy with a tiny effect needs ~230 repeats: the axis ends at 50 so the others stay
    readable, and a note names the one beyond it with its count."""
    from core.present.verdict_figures import power_figure

    small_d = 0.186  # 80% power at about 230 pairs
    table = pd.DataFrame([
        {"strategy": "entropy", "repeats": 5, "gain": 0.01, "effect_size": small_d,
         "needed_observed": v.repeats_needed(small_d, 1.0)},
        {"strategy": "hybrid", "repeats": 5, "gain": 0.03, "effect_size": 1.2, "needed_observed": v.repeats_needed(1.2, 1.0)},
    ])
    assert table.needed_observed[0] > 200 and table.needed_observed[1] < 20
    fig = power_figure(table, "random")
    assert fig.layout.xaxis.range[1] <= 51
    note = " ".join(a.text for a in fig.layout.annotations).replace("<br>", " ")
    assert f"entropy needs {table.needed_observed[0]}" in note and "hybrid" not in note


def test_the_difference_chart_draws_a_band_from_four_repeats_and_says_when_it_does_not():
    from core.present.verdict_figures import difference_figure

    for repeats, banded in ((3, False), (4, True)):
        diffs = v.difference_table(make_rounds({"random": 0.0, "entropy": 0.05}, repeats=repeats), "test_accuracy")
        fig = difference_figure(diffs, "test_accuracy", "random")
        assert any(t.fill == "toself" for t in fig.data) == banded
        assert ("n=3: band not shown" in fig.layout.title.text.replace("<br>", " ")) == (not banded)
