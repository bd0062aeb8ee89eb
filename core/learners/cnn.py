"""The seed paper's small CNN, trained with torch: fine-tuned each round or retrained from its init.

Three blocks of two 3x3 convolutions (ReLU) and a 2x2 max-pool, then a hidden fully
connected layer with dropout and the class layer. The penultimate activations (the hidden
layer, after ReLU) are the features the hybrid clusters in and the query map projects.

Determinism: the initial weights come from `seed`; the t-th call to `fit` draws its batch
order, augmentation and dropout from a generator seeded with (seed, t). The fit counter
and the weights are the learner's state (`get_state` / `set_state`), so a run resumed
from the cache continues exactly as an uninterrupted one would (on CPU).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from core.learners.base import LEARNERS, check_number
from core.types import DataInfo

TRAINING_MODES = ("finetune", "retrain")
AUGMENT_MODES = ("auto", "on", "off")
DEVICES = ("auto", "cpu", "cuda")
PARAM_NAMES = ("channels", "hidden", "dropout", "epochs", "min_steps", "batch_size", "lr", "weight_decay", "training",
               "augment", "mc_samples", "eval_batch_size", "device_name", "threads")


def _parse_channels(channels) -> tuple[int, int, int]:
    values = [int(c) for c in channels.split(",")] if isinstance(channels, str) else [int(c) for c in channels]
    if len(values) != 3 or min(values) < 1:
        raise ValueError(f"channels must be three positive integers, one per block (e.g. 32,64,128); got {channels!r}")
    return tuple(values)  # type: ignore[return-value]


@LEARNERS.register("cnn")
class CNNLearner:
    """Small CNN (torch) on uint8 images; fine-tunes across rounds by default, as the seed paper does."""

    semi_supervised = False
    blas_threads = None  # torch manages its own threads (see `threads`)

    def __init__(
        self,
        info: DataInfo,
        seed: int = 0,
        channels: str = "32,64,128",
        hidden: int = 128,
        dropout: float = 0.5,
        epochs: int = 10,
        min_steps: int = 100,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        training: str = "finetune",
        augment: str = "auto",
        mc_samples: int = 0,
        eval_batch_size: int = 512,
        device: str = "auto",
        threads: int = 1,
    ) -> None:
        self.info, self.seed = info, int(seed)
        self.channels = _parse_channels(channels)
        for name, value, low in (("hidden", hidden, 1), ("epochs", epochs, 1), ("min_steps", min_steps, 0),
                                 ("batch_size", batch_size, 1), ("mc_samples", mc_samples, 0),
                                 ("eval_batch_size", eval_batch_size, 1), ("threads", threads, 0)):
            check_number(name, value, low=low, integer=True)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
        if not lr > 0 or weight_decay < 0:
            raise ValueError(f"lr must be > 0 and weight_decay >= 0; got lr={lr!r}, weight_decay={weight_decay!r}")
        if training not in TRAINING_MODES:
            raise ValueError(f"training must be one of {list(TRAINING_MODES)}; got {training!r}")
        if augment not in AUGMENT_MODES:
            raise ValueError(f"augment must be one of {list(AUGMENT_MODES)}; got {augment!r}")
        if device not in DEVICES:
            raise ValueError(f"device must be one of {list(DEVICES)}; got {device!r}")
        if device == "cuda":  # asked for by name: check now (imports torch), not at the first fit
            import torch

            if not torch.cuda.is_available():
                raise ValueError("device='cuda' but torch sees no CUDA device; use device=auto or cpu")
        h, w, c = info.image_shape
        if min(h, w) < 8:
            raise ValueError(f"the cnn learner needs images of at least 8x8 (three 2x2 poolings); got {h}x{w}")
        self.hidden, self.dropout, self.epochs, self.min_steps = int(hidden), float(dropout), epochs, min_steps
        self.batch_size, self.lr, self.weight_decay = batch_size, float(lr), float(weight_decay)
        self.training, self.augment, self.mc_samples = training, augment, mc_samples
        self.eval_batch_size, self.device_name, self.threads = eval_batch_size, device, threads
        self.transduction_proba_ = None

    @cached_property
    def net(self):
        """The torch network, built on first use: checking a config builds the learner without torch."""
        from core.learners.cnn_torch import TorchCNN

        return TorchCNN(self)

    def params(self) -> dict:
        return {"channels": ",".join(map(str, self.channels)), "hidden": self.hidden, "dropout": self.dropout,
                "epochs": self.epochs, "min_steps": self.min_steps, "batch_size": self.batch_size, "lr": self.lr,
                "weight_decay": self.weight_decay, "training": self.training, "augment": self.augment,
                "mc_samples": self.mc_samples}

    @property
    def classes_(self) -> np.ndarray:
        return self.net.classes_

    @property
    def n_fits_(self) -> int:
        return self.net.n_fits_

    @property
    def device(self):
        return self.net.device

    def fit(self, X, y, *, X_unlabeled=None):
        self.net.fit(X, y)
        return self

    def predict_proba(self, X):
        """Softmax over all classes (0 for classes unseen in training); with mc_samples > 0, the
        mean of that many passes with dropout on (MC dropout)."""
        return self.net.predict_proba(X)

    def embed(self, X):
        """Penultimate activations (the hidden layer after ReLU), float32 (n, hidden)."""
        return self.net.embed(X)

    def proba_and_embed(self, X):
        """`predict_proba(X)` and `embed(X)` from one forward pass: the hybrid's pool pass."""
        return self.net.proba_and_embed(X)

    def get_state(self) -> dict[str, np.ndarray]:
        """Weights, the fit counter and the seen classes: all a resumed run needs (no pickle)."""
        return self.net.get_state()

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.net.set_state(state)
