"""The torch side of the `cnn` learner (imported on first use, so `import core` stays light)."""

from __future__ import annotations

import contextlib
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.learners.base import LearnerError
from core.params import ParamError
from core.types import DataInfo

_STATE_PREFIX = "model."


@dataclass(frozen=True)
class CNNSettings:
    """The cnn learner's checked settings (see `CNNLearner.parameters`), the data's shape and the seed."""

    info: DataInfo
    seed: int
    channels: tuple[int, int, int]
    hidden: int
    dropout: float
    epochs: int
    min_steps: int
    batch_size: int
    lr: float
    weight_decay: float
    training: str
    augment: str
    mc_samples: int
    eval_batch_size: int
    device: str
    threads: int


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
        raise ParamError("device='cuda' but torch sees no CUDA device; use device=auto or cpu", "learner_params.device")
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
    """The network, its training loop and batched inference, for settings checked by CNNLearner."""

    def __init__(self, settings: CNNSettings) -> None:
        self.settings = s = settings
        self.info, self.seed = s.info, s.seed
        h, w, c = self.info.image_shape
        self.device = pick_device(s.device)
        self.n_fits_ = 0
        with self._seeded(self.seed):
            self.model = SmallCNN(c, self.info.n_classes, (h, w), s.channels, s.hidden, s.dropout)
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
        torch.set_num_threads(self.settings.threads or os.cpu_count() or 1)

    # -- conversion --------------------------------------------------------------------------------------
    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        """uint8 (n, h, w, c) -> float (n, c, h, w) on the device, scaled to the dataset's feature units."""
        x = torch.from_numpy(np.ascontiguousarray(X)).to(self.device).permute(0, 3, 1, 2).float()
        return x * self.info.feature_scale

    def _uses_augmentation(self) -> bool:
        augment = self.settings.augment
        return augment == "on" or (augment == "auto" and self.info.image_shape[2] == 3)

    # -- the learner protocol ----------------------------------------------------------------------------
    def fit(self, X, y):
        s = self.settings
        X, y = np.asarray(X), np.asarray(y, dtype=np.int64)
        self.classes_ = np.unique(y)
        unseen = self._unseen_mask()
        if s.training == "retrain":
            self.model.load_state_dict(self._initial)
        with self._seeded(self.n_fits_ + 1) as generator:
            xs = self._tensor(X)
            self.model.mean.copy_(xs.mean(dim=(0, 2, 3), keepdim=True))
            self.model.std.copy_(xs.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3) if len(X) > 1 else torch.ones_like(self.model.std))
            ys = torch.from_numpy(y).to(self.device)
            optimizer = torch.optim.Adam(self.model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
            steps_per_epoch = math.ceil(len(X) / s.batch_size)
            epochs = max(s.epochs, math.ceil(s.min_steps / steps_per_epoch))
            augment, pad = self._uses_augmentation(), max(1, self.info.image_shape[0] // 8)
            self.model.train()
            for _ in range(epochs):
                order = torch.randperm(len(X), generator=generator).to(self.device)
                for start in range(0, len(X), s.batch_size):
                    batch = order[start:start + s.batch_size]
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
            raise LearnerError(f"cnn training diverged (loss {final_loss}) with lr={s.lr:g}, "
                               f"weight_decay={s.weight_decay:g}; lower lr (default 0.001)", "learner_params.lr")
        self.n_fits_ += 1
        return self

    def _unseen_mask(self) -> torch.Tensor:
        """0 for classes seen in training, -inf for the others: unseen classes get probability 0."""
        mask = torch.full((self.info.n_classes,), float("-inf"), device=self.device)
        mask[torch.from_numpy(self.classes_).to(self.device)] = 0.0
        return mask

    @torch.no_grad()
    def infer(self, X, want: frozenset[str]) -> dict[str, np.ndarray]:
        """Any of "proba", "features", "proba_samples" for rows X, from one pass in eval batches.

        With mc_samples > 0, "proba" is the mean of the mc_samples dropout-on passes, and those
        passes are "proba_samples": both come from the same draws, so they agree exactly. The
        draws are seeded with (seed, fit count): the same model and data give the same passes.
        """
        s = self.settings
        X = np.asarray(X)
        n, n_classes = len(X), self.info.n_classes
        out: dict[str, np.ndarray] = {}
        if "proba" in want:
            out["proba"] = np.empty((n, n_classes), dtype=np.float32)
        if "features" in want:
            out["features"] = np.empty((n, s.hidden), dtype=np.float32)
        if "proba_samples" in want:
            out["proba_samples"] = np.empty((s.mc_samples, n, n_classes), dtype=np.float32)
        mc = s.mc_samples > 0 and ("proba" in out or "proba_samples" in out)
        unseen = self._unseen_mask() if "proba" in out or "proba_samples" in out else None
        self._set_threads()
        self.model.eval()
        with self._seeded(self.n_fits_, 2**31) if mc else contextlib.nullcontext():
            if mc:
                self.model.dropout.train()
            try:
                for start in range(0, n, s.eval_batch_size):  # bounded memory: one batch on the device at a time
                    rows = slice(start, start + s.eval_batch_size)
                    h = self.model.embed(self._tensor(X[rows]))
                    if "features" in out:
                        out["features"][rows] = h.cpu().numpy()
                    if unseen is None:
                        continue
                    if mc:
                        samples = [F.softmax(self.model.out(self.model.dropout(h)) + unseen, dim=1)
                                   for _ in range(s.mc_samples)]
                        if "proba_samples" in out:
                            out["proba_samples"][:, rows] = torch.stack(samples).cpu().numpy()
                        if "proba" in out:
                            out["proba"][rows] = (sum(samples) / s.mc_samples).cpu().numpy()
                    else:  # eval: dropout is the identity
                        out["proba"][rows] = F.softmax(self.model.out(h) + unseen, dim=1).cpu().numpy()
            finally:
                self.model.dropout.eval()
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
