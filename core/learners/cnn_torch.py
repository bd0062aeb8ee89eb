"""The torch side of the `cnn` learner (imported on first use, so `import core` stays light)."""

from __future__ import annotations

import contextlib
import math
import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.learners.base import LearnerError
from core.learners.cnn import PARAM_NAMES

_STATE_PREFIX = "model."

class SmallCNN(nn.Module):
    """conv-conv-pool x 3 -> hidden (ReLU, dropout) -> classes. Input normalised per channel."""

    def __init__(self, in_channels: int, n_classes: int, image_hw: tuple[int, int], channels: tuple[int, int, int],
                 hidden: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        h, w = image_hw[0] // 8, image_hw[1] // 8
        self.hidden = nn.Linear(channels[-1] * h * w, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_classes)
        # per-channel input statistics, set from the labelled data at each fit; saved with the weights
        self.register_buffer("mean", torch.zeros(1, in_channels, 1, 1))
        self.register_buffer("std", torch.ones(1, in_channels, 1, 1))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        return F.relu(self.hidden(torch.flatten(self.features(x), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.embed(x)))


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but torch sees no CUDA device; use device=auto or cpu")
    return torch.device(device)


def augment_batch(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Random crop with zero padding `pad` and random horizontal flip, per image, in torch ops."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device="cpu").to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device="cpu").to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device)[None, :])  # (n, h)
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None, :])  # (n, w)
    idx_n = torch.arange(n, device=x.device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    flip = (torch.rand(n, generator=generator, device="cpu") < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], cropped.flip(3), cropped)


class TorchCNN:
    """The network, its training loop and batched inference; parameters come validated from CNNLearner."""

    def __init__(self, learner) -> None:
        self.info, self.seed = learner.info, learner.seed
        for name in PARAM_NAMES:
            setattr(self, name, getattr(learner, name))
        h, w, c = self.info.image_shape
        self.device = pick_device(self.device_name)
        self.n_fits_ = 0
        with self._seeded(self.seed):
            self.model = SmallCNN(c, self.info.n_classes, (h, w), self.channels, self.hidden, self.dropout)
        self.model.to(self.device)
        self._initial = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    # -- determinism -------------------------------------------------------------------------------------
    @contextmanager
    def _seeded(self, *key: int) -> Iterator[torch.Generator]:
        """Seed torch's global RNG (init, dropout) from `key` without disturbing the caller's RNG state."""
        seed = int(np.random.SeedSequence([self.seed, *key]).generate_state(1, dtype=np.uint64)[0] % (2**63))
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        self._set_threads()
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield torch.Generator().manual_seed(seed)

    def _set_threads(self) -> None:
        # One thread by default: on a busy 2-core machine two OpenMP threads were measured up to
        # 30x slower than one (they spin waiting for each other), and parallel runs use the cores.
        torch.set_num_threads(self.threads or os.cpu_count() or 1)

    # -- conversion --------------------------------------------------------------------------------------
    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        """uint8 (n, h, w, c) -> float (n, c, h, w) on the device, scaled to the dataset's feature units."""
        x = torch.from_numpy(np.ascontiguousarray(X)).to(self.device).permute(0, 3, 1, 2).float()
        return x * self.info.feature_scale

    def _uses_augmentation(self) -> bool:
        return self.augment == "on" or (self.augment == "auto" and self.info.image_shape[2] == 3)

    # -- the learner protocol ----------------------------------------------------------------------------
    def fit(self, X, y, *, X_unlabeled=None):
        X, y = np.asarray(X), np.asarray(y, dtype=np.int64)
        self.classes_ = np.unique(y)
        unseen = self._unseen_mask()
        if self.training == "retrain":
            self.model.load_state_dict(self._initial)
        with self._seeded(self.n_fits_ + 1) as generator:
            xs = self._tensor(X)
            self.model.mean.copy_(xs.mean(dim=(0, 2, 3), keepdim=True))
            self.model.std.copy_(xs.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3) if len(X) > 1 else torch.ones_like(self.model.std))
            ys = torch.from_numpy(y).to(self.device)
            optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            steps_per_epoch = math.ceil(len(X) / self.batch_size)
            epochs = max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))
            augment, pad = self._uses_augmentation(), max(1, self.info.image_shape[0] // 8)
            self.model.train()
            for _ in range(epochs):
                order = torch.randperm(len(X), generator=generator).to(self.device)
                for start in range(0, len(X), self.batch_size):
                    batch = order[start:start + self.batch_size]
                    xb = xs[batch]
                    if augment:
                        xb = augment_batch(xb, pad, generator)
                    loss = F.cross_entropy(self.model(xb) + unseen, ys[batch])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
            self.model.eval()
            final_loss = float(loss.detach())  # one device sync per fit, not per step
        if not math.isfinite(final_loss):  # NaN weights would give NaN probabilities: garbage picks, silently
            raise LearnerError(f"cnn training diverged (loss {final_loss}) with lr={self.lr:g}, "
                               f"weight_decay={self.weight_decay:g}; lower lr (default 0.001)")
        self.n_fits_ += 1
        return self

    def _unseen_mask(self) -> torch.Tensor:
        """0 for classes seen in training, -inf for the others: unseen classes get probability 0."""
        mask = torch.full((self.info.n_classes,), float("-inf"), device=self.device)
        mask[torch.from_numpy(self.classes_).to(self.device)] = 0.0
        return mask

    def _batches(self, X: np.ndarray) -> Iterator[torch.Tensor]:
        for start in range(0, len(X), self.eval_batch_size):  # bounded memory: one batch on the device at a time
            yield self._tensor(X[start:start + self.eval_batch_size])

    def predict_proba(self, X):
        """Softmax over all classes; with mc_samples > 0 the mean of that many dropout-on passes."""
        return self._forward(X, with_embeddings=False)[0]

    def proba_and_embed(self, X):
        """Probabilities and penultimate features from one pass over X (the hybrid needs both)."""
        return self._forward(X, with_embeddings=True)

    @torch.no_grad()
    def _forward(self, X, *, with_embeddings: bool):
        X = np.asarray(X)
        proba = np.empty((len(X), self.info.n_classes), dtype=np.float32)
        features = np.empty((len(X), self.hidden), dtype=np.float32) if with_embeddings else None
        unseen = self._unseen_mask()
        self._set_threads()
        self.model.eval()
        # MC dropout: the same passes for the same model and data
        seeded = self._seeded(self.n_fits_, 2**31) if self.mc_samples else contextlib.nullcontext()
        with seeded:
            if self.mc_samples:
                self.model.dropout.train()
            try:
                for start, xb in zip(range(0, len(X), self.eval_batch_size), self._batches(X)):
                    h = self.model.embed(xb)
                    if self.mc_samples:
                        p = sum(F.softmax(self.model.out(self.model.dropout(h)) + unseen, dim=1)
                                for _ in range(self.mc_samples)) / self.mc_samples
                    else:
                        p = F.softmax(self.model.out(h) + unseen, dim=1)  # eval: dropout is the identity
                    proba[start:start + len(xb)] = p.cpu().numpy()
                    if features is not None:
                        features[start:start + len(xb)] = h.cpu().numpy()
            finally:
                self.model.dropout.eval()
        return proba, features

    @torch.no_grad()
    def embed(self, X):
        """Penultimate activations (hidden layer after ReLU), float32 (n, hidden)."""
        X = np.asarray(X)
        self._set_threads()
        self.model.eval()
        out = np.empty((len(X), self.hidden), dtype=np.float32)
        for start, xb in zip(range(0, len(X), self.eval_batch_size), self._batches(X)):
            out[start:start + len(xb)] = self.model.embed(xb).cpu().numpy()
        return out

    # -- state for resuming and for per-round features ---------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Weights (float32 arrays), the fit counter and the seen classes: all a resumed run needs."""
        state = {_STATE_PREFIX + k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}
        state["n_fits"] = np.array(self.n_fits_, dtype=np.int64)
        state["classes"] = np.asarray(getattr(self, "classes_", np.arange(0)), dtype=np.int64)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        weights = {k[len(_STATE_PREFIX):]: torch.from_numpy(np.array(v)) for k, v in state.items() if k.startswith(_STATE_PREFIX)}
        self.model.load_state_dict(weights)  # strict: a state of another architecture is an error
        self.n_fits_ = int(state["n_fits"])
        if state["classes"].size:
            self.classes_ = np.asarray(state["classes"], dtype=np.int64)
        self.model.eval()
