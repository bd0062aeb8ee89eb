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

import os
from functools import cached_property

import numpy as np

from core.learners.base import LEARNERS, check_choice, check_number, is_real
from core.types import DataInfo

TRAINING_MODES = ("finetune", "retrain")
AUGMENT_MODES = ("auto", "on", "off")
DEVICES = ("auto", "cpu", "cuda")
PARAM_NAMES = ("channels", "hidden", "dropout", "epochs", "min_steps", "batch_size", "lr", "weight_decay", "training",
               "augment", "mc_samples", "eval_batch_size", "device_name", "threads")

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
        for name, value, low, cap in (("hidden", hidden, 1, MAX_HIDDEN), ("epochs", epochs, 1, MAX_EPOCHS),
                                      ("min_steps", min_steps, 0, MAX_MIN_STEPS),
                                      ("batch_size", batch_size, 1, MAX_BATCH_SIZE),
                                      ("mc_samples", mc_samples, 0, MAX_MC_SAMPLES),
                                      ("eval_batch_size", eval_batch_size, 1, MAX_BATCH_SIZE),
                                      ("threads", threads, 0, max_threads())):
            check_number(name, value, low=low, integer=True, at_most=cap)
        if not (is_real(dropout) and 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
        check_number("lr", lr, low=0.0, high=MAX_LR, low_open=True)
        check_number("weight_decay", weight_decay, low=0.0, high=MAX_WEIGHT_DECAY)
        check_choice("training", training, TRAINING_MODES)
        check_choice("augment", augment, AUGMENT_MODES)
        check_choice("device", device, DEVICES)
        h, w, c = info.image_shape
        if min(h, w) < 8:
            raise ValueError(f"the cnn learner needs images of at least 8x8 (three 2x2 poolings); got {h}x{w}")
        need, limit = estimate_bytes(info.image_shape, info.n_classes, self.channels, hidden, batch_size,
                                     eval_batch_size), memory_limit()
        if need > limit:
            raise ValueError(
                f"channels={','.join(map(str, self.channels))}, hidden={hidden}, batch_size={batch_size} and "
                f"eval_batch_size={eval_batch_size} on {h}x{w}x{c} images need about {need / 2**30:.1f} GiB; the cnn "
                f"allows at most {limit / 2**30:.1f} GiB here: lower channels, hidden, the batch sizes or image_size"
            )
        if device == "cuda":  # asked for by name: check now (imports torch), not at the first fit
            import torch

            if not torch.cuda.is_available():
                raise ValueError("device='cuda' but torch sees no CUDA device; use device=auto or cpu")
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
