"""What a chart says about the run: dataset, learner, budget, strategy settings and repeats,
built in one place so the page, the export and the command line say the same thing."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

METRIC_LABELS = {
    "test_accuracy": "Test accuracy",
    "pool_accuracy": "Pool accuracy (unlabelled samples)",
    "test_macro_f1": "Test macro-F1",
    "pool_macro_f1": "Pool macro-F1 (unlabelled samples)",
}
MIN_BAND_REPEATS = 4  # a t interval from 2-3 repeats is 12.7x / 4.3x the standard error: too wide to read


def dataset_label(config) -> str:
    """'digits', 'folder fruits360', 'cifar10 (32 px)': the data a comparison ran on, by name."""
    name = str(config.dataset)
    data_dir = getattr(config, "data_dir", None)
    if data_dir:
        folder = Path(str(data_dir)).name
        if folder and folder != name:
            name = f"{name} {folder}"
    if getattr(config, "image_size", None):
        name += f" ({config.image_size} px)"
    return name


def learner_label(config) -> str:
    """'logistic', 'cnn (epochs=5, lr=0.001)'."""
    params = dict(getattr(config, "learner_params", None) or {})
    from core.learners import LEARNERS

    if config.learner in LEARNERS:  # a learner may always show some settings (the pretrained backbone, its weights)
        params = LEARNERS[config.learner].label_settings(params)
    return config.learner + (f" ({', '.join(f'{k}={format_setting(v)}' for k, v in sorted(params.items()))})"
                             if params else "")


def budget_label(config) -> str:
    """'budget 110 labels (20 initial + 9 × 10)'."""
    steps = f" + {config.rounds - 1} × {config.batch}" if config.rounds > 1 else ""
    return f"budget {config.budget} labels ({config.initial} initial{steps})"


def strategy_label(config, strategy: str) -> str:
    """'hybrid (alpha 0.5, clusters 5, measure entropy)': a strategy with its declared parameters'
    values (defaults filled in); a strategy without parameters is its name."""
    params = config.params_for(strategy)
    params.pop("policy", None)
    params.pop("threshold", None)
    return strategy + (f" ({', '.join(f'{k} {format_setting(v)}' for k, v in params.items())})" if params else "")


def strategies_settings(config) -> list[str]:
    """The label of every chosen strategy that has parameters (what a chart's subtitle states)."""
    return [label for label in (strategy_label(config, s) for s in config.strategies) if "(" in label]


def repeats_label(counts: Mapping[str, int]) -> str:
    """'3 repeats', or per strategy where they differ ('3 repeats; hybrid: 1')."""
    if not counts:
        return "no repeat yet"
    top = max(counts.values())
    others = [f"{s}: {n}" for s, n in counts.items() if n != top]
    return f"{top} repeat{'s' * (top != 1)}" + (f" ({'; '.join(others)})" if others else "")


def settings_line(config, repeats: Mapping[str, int] | None = None) -> str:
    """The settings that matter for reading a chart of `config`, on one line.

    `repeats` (strategy -> repeats present) says how many repeats are really behind the
    chart; a cancelled comparison may hold fewer than `config.repeats`.
    """
    parts = [dataset_label(config), learner_label(config), budget_label(config)]
    parts.extend(strategies_settings(config))
    if getattr(config, "mode", "pool") == "stream":
        parts.append(f"stream, threshold {config.threshold:g}" if config.stream_policy == "threshold"
                     else "stream, budget policy")
    if getattr(config, "subset", None):
        parts.append(f"pool of {config.subset}")
    if getattr(config, "test_size", 0.25) == 0:
        parts.append("no test split")
    parts.append(repeats_label(repeats) if repeats is not None else f"{config.repeats} repeat{'s' * (config.repeats != 1)}")
    return " · ".join(parts)


def band_label(counts: Mapping[str, int], *, repeats_drawn: bool = False) -> str:
    """What a learning curve's band is over: 'mean and 95% CI over 5 repeats'; with fewer than
    `MIN_BAND_REPEATS` (a strategy's, or all) that the band is not shown, and whether the repeats are drawn."""
    if not counts:
        return "no completed round"

    def few(n: int) -> str:
        if n < 2:
            return "no band"
        return f"n={n}: band not shown" + (", repeats drawn" if repeats_drawn else "")

    top = max(counts.values())
    if top >= MIN_BAND_REPEATS:
        head = f"mean and 95% CI over {top} repeats"
    elif top >= 2:
        head = f"mean of {top} repeats, " + few(top)
    else:
        head = "1 repeat: mean only, no CI band"
    others = [f"{s}: {n} repeat{'s' * (n != 1)}" + (", " + few(n) if n < MIN_BAND_REPEATS <= top or n < 2 else "")
              for s, n in counts.items() if n != top]
    return head + (f" ({'; '.join(others)})" if others else "")


def format_setting(value) -> str:
    """A setting as a reader writes it: None -> '—', {} -> 'none', lists joined, 0.5 -> '0.5'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={format_setting(v)}" for k, v in value.items()) if value else "none"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(format_setting(v) for v in value) if value else "none"
    return str(value)
