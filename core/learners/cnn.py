"""The seed paper's small CNN, trained with torch: fine-tuned each round or retrained from its init.

Three blocks of two 3x3 convolutions (ReLU) and a 2x2 max-pool, then a hidden fully
connected layer with dropout and the class layer. The penultimate activations (the hidden
layer, after ReLU) are the features the hybrid clusters in and the query map projects.

Determinism: the initial weights come from `seed`; the t-th call to `fit` draws its batch
order, augmentation and dropout from a generator seeded with (seed, t), and the MC-dropout
passes after it from one seeded with (seed, t, 2**31). The fit counter and the weights are
the learner's state (`get_state` / `set_state`), so a run resumed from the cache continues
exactly as an uninterrupted one would (on CPU).
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any, Mapping

import numpy as np

from core.learners.base import LEARNERS, BaseLearner
from core.params import Interval, Options, ParamError, Text

TRAINING_MODES = ("finetune", "retrain")
AUGMENT_MODES = ("auto", "on", "off")
DEVICES = ("auto", "cpu", "cuda")

# Caps on the size-like settings, checked before torch is imported or anything is allocated
# (channels=1000000,1,1 once asked torch for 36 TB, threads=100000 exhausted memory).
MAX_CHANNELS = 4096  # per block
MAX_HIDDEN = 65_536
MAX_EPOCHS = 10_000
MAX_MIN_STEPS = 1_000_000
MAX_BATCH_SIZE = 65_536  # batch_size and eval_batch_size
MAX_MC_SAMPLES = 1_000
MAX_LR = 10.0
MAX_WEIGHT_DECAY = 10.0
MAX_MEMORY_BYTES = 32 * 2**30  # estimated peak memory of one network (`estimate_bytes`); see `memory_limit`


def memory_limit() -> int:
    """The most one network may need: 32 GiB, or half this machine's memory when it has less than 64 GiB."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows) or no such name
        return MAX_MEMORY_BYTES
    return min(MAX_MEMORY_BYTES, physical // 2)


def max_threads() -> int:
    """Torch threads beyond 4 per core only spin against each other (256 at most: each has its own buffers)."""
    return min(256, 4 * (os.cpu_count() or 1))


_CHANNELS_RULE = f"three positive integers (at most {MAX_CHANNELS} each), one per block (e.g. 32,64,128)"


def _parse_channels(channels) -> tuple[int, int, int]:
    """"32,64,128" or [32, 64, 128] -> (32, 64, 128); anything else is a ValueError naming the rule."""
    parts = channels.split(",") if isinstance(channels, str) else channels
    values: list[int] = []
    if isinstance(parts, (list, tuple)):
        for part in parts:
            if isinstance(part, str) and part.strip().isdigit() and len(part.strip()) <= 9:
                values.append(int(part.strip()))
            elif isinstance(part, int) and not isinstance(part, bool):
                values.append(part)
            else:
                values = []
                break
    if len(values) != 3 or not all(1 <= v <= MAX_CHANNELS for v in values):
        raise ValueError(f"channels must be {_CHANNELS_RULE}; got {channels!r}")
    return tuple(values)  # type: ignore[return-value]


def estimate_bytes(image_shape: tuple[int, ...], n_classes: int, channels: tuple[int, int, int], hidden: int,
                   batch_size: int, eval_batch_size: int) -> int:
    """Rough float32 memory of the network at its peak, in bytes.

    Training: weights, their initial copy (for training=retrain), gradients and two Adam moments,
    plus every activation of one batch and its gradient. Inference (no autograd): weights and
    their copy, plus the input and the two largest activations alive at once, for one eval batch.
    """
    h, w, c_in = image_shape
    params, inputs = 0, c_in * h * w
    activations, largest = inputs, 0
    for c in channels:
        params += (c_in * 9 + 1) * c + (c * 9 + 1) * c
        activations += 2 * c * h * w + c * (h // 2) * (w // 2)  # two convolutions, then the pooling
        largest = max(largest, c * h * w)
        c_in, h, w = c, h // 2, w // 2
    params += (c_in * h * w + 1) * hidden + (hidden + 1) * n_classes
    activations += 2 * hidden + n_classes
    train = 4 * (5 * params + 2 * batch_size * activations)
    infer = 4 * (2 * params + eval_batch_size * (inputs + 2 * max(largest, hidden)))
    return max(train, infer)


@LEARNERS.register("cnn")
class CNNLearner(BaseLearner):
    """Small CNN (torch) on uint8 images; fine-tunes across rounds by default, as the seed paper does."""

    parameters = {
        "channels": Text(rule=_CHANNELS_RULE, parse=_parse_channels, default="32,64,128",
                         help="convolution channels of the three blocks"),
        "hidden": Interval(int, 1, None, default=128, at_most=MAX_HIDDEN,
                           help="units of the hidden layer: the embedding's size"),
        "dropout": Interval(float, 0.0, 1.0, closed="left", default=0.5, help="dropout before the class layer"),
        "epochs": Interval(int, 1, None, default=10, at_most=MAX_EPOCHS, help="passes over the labelled set per fit"),
        "min_steps": Interval(int, 0, None, default=100, at_most=MAX_MIN_STEPS,
                              help="at least this many optimiser steps per fit: more epochs on small sets"),
        "batch_size": Interval(int, 1, None, default=64, at_most=MAX_BATCH_SIZE, help="training batch size"),
        "lr": Interval(float, 0.0, MAX_LR, closed="right", default=1e-3, help="Adam learning rate"),
        "weight_decay": Interval(float, 0.0, MAX_WEIGHT_DECAY, default=0.0, help="Adam weight decay, an L2 penalty"),
        "training": Options(TRAINING_MODES, default="finetune",
                            help="finetune: continue from last round's weights; retrain: restart from the seeded init"),
        "augment": Options(AUGMENT_MODES, default="auto",
                           help="random crops and flips; auto: on for colour images"),
        "mc_samples": Interval(int, 0, None, default=0, at_most=MAX_MC_SAMPLES,
                               help="MC-dropout passes averaged into the probabilities; 0: one plain pass; "
                                    "2 or more also give probability samples"),
        "eval_batch_size": Interval(int, 1, None, default=512, at_most=MAX_BATCH_SIZE,
                                    help="inference batch size: bounds memory"),
        "device": Options(DEVICES, default="auto", help="auto: cuda when torch sees a GPU, else cpu"),
        "threads": Interval(int, 0, None, default=1, at_most=max_threads(),
                            help="torch CPU threads; 0: one per core"),
    }
    provides = frozenset({"proba", "features"})
    semi_supervised = False
    provides_when = {"proba_samples": "mc_samples >= 2 and dropout > 0"}
    stateful = True  # weights and fit counter: see get_state / set_state
    expensive_fit = True  # training on the whole pool: minutes on a CPU
    blas_threads = None  # torch manages its own threads (see `threads`)

    def check(self, values: dict[str, Any]) -> None:
        """The settings against the data's shape and this machine: image size, memory, CUDA."""
        h, w, c = self.info.image_shape
        if min(h, w) < 8:
            raise ParamError(f"the cnn learner needs images of at least 8x8 (three 2x2 poolings); got {h}x{w}",
                             "learner")
        need = estimate_bytes(self.info.image_shape, self.info.n_classes, values["channels"], values["hidden"],
                              values["batch_size"], values["eval_batch_size"])
        limit = memory_limit()
        if need > limit:
            raise ParamError(
                f"channels={','.join(map(str, values['channels']))}, hidden={values['hidden']}, "
                f"batch_size={values['batch_size']} and eval_batch_size={values['eval_batch_size']} on {h}x{w}x{c} "
                f"images need about {need / 2**30:.1f} GiB; the cnn allows at most {limit / 2**30:.1f} GiB here: "
                f"lower channels, hidden, the batch sizes or image_size", "learner_params.channels")
        if values["device"] == "cuda":  # asked for by name: check now (imports torch), not at the first fit
            import torch

            if not torch.cuda.is_available():
                raise ParamError("device='cuda' but torch sees no CUDA device; use device=auto or cpu",
                                 "learner_params.device")

    @classmethod
    def provided(cls, params: Mapping[str, Any]) -> frozenset[str]:
        """Probability samples need at least two MC-dropout passes, and dropout (without it every pass is the same)."""
        stochastic = params["mc_samples"] >= 2 and params["dropout"] > 0
        return cls.provides | {"proba_samples"} if stochastic else cls.provides

    @cached_property
    def net(self):
        """The torch network, built on first use: checking a config builds the learner without torch."""
        from core.learners.cnn_torch import CNNSettings, TorchCNN

        return TorchCNN(CNNSettings(info=self.info, seed=self.seed, **self.values))

    def params(self) -> dict:
        """The settings, channels as text ("32,64,128"): JSON keeps it as it was given."""
        return {**self.values, "channels": ",".join(map(str, self.values["channels"]))}

    # BaseLearner sets every declared setting as an attribute; the `device` setting is kept as
    # `device_name`, so that `device` can stay the torch device the network runs on.
    @property
    def device(self):
        return self.net.device

    @device.setter
    def device(self, name: str) -> None:
        self.device_name = name

    @property
    def classes_(self) -> np.ndarray:
        return self.net.classes_

    @property
    def n_fits_(self) -> int:
        return self.net.n_fits_

    def fit(self, X, y, *, X_unlabeled=None):
        from core.stopping import Cancelled, interruptible

        try:
            with interruptible():  # a stop request ends the epochs now; the last completed round's state is stored
                self.net.fit(X, y)
        except Cancelled as exc:
            raise Cancelled(f"{exc} during a cnn fit (its round is computed again on resume)") from None
        return self

    def predict_proba(self, X):
        """Softmax over all classes (0 for classes unseen in training); with mc_samples > 0, the
        mean of that many passes with dropout on (MC dropout)."""
        return self.infer(X, frozenset({"proba"}))["proba"]

    def embed(self, X):
        """Penultimate activations (the hidden layer after ReLU), float32 (n, hidden)."""
        return self.infer(X, frozenset({"features"}))["features"]

    def predict_proba_samples(self, X):
        """The mc_samples dropout-on passes themselves, float32 (mc_samples, n, n_classes)."""
        return self.infer(X, frozenset({"proba_samples"}))["proba_samples"]

    def infer(self, X, want):
        """One pass over X for all of `want`; with samples, "proba" is exactly their mean."""
        if "proba_samples" in want and self.mc_samples < 2:
            raise ParamError(f"learner_params.mc_samples must be an integer >= 2 for probability samples (MC "
                             f"dropout); got {self.mc_samples}", "learner_params.mc_samples")
        from core.stopping import interruptible

        with interruptible():  # inference over a large pool: nothing half-done is kept, so stop at once
            return self.net.infer(X, frozenset(want))

    def get_state(self) -> dict[str, np.ndarray]:
        """Weights, the fit counter and the seen classes: all a resumed run needs (no pickle)."""
        return self.net.get_state()

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.net.set_state(state)
