"""A torchvision backbone as a frozen feature extractor, with a linear head trained each round.

The backbone's penultimate output (its classifier replaced by the identity) is computed once
per image through the feature store (`core.engine.feature_store`), keyed by the data's content, the
backbone, the weights (torchvision's weights name, or the sha256 of a state-dict file), the
input size and the preprocessing, and only for the images a run asks for (its pool and test
split); every run, strategy and repeat of a comparison, and every later comparison on the same
data, reads it back. The head is refitted from
scratch each round on the labelled rows' features, so the learner keeps no state between
rounds: `logistic` (scikit-learn, standardised features) or `linear` (a torch linear layer
with dropout, whose MC-dropout passes are the probability samples BALD reads).

torch and torchvision are imported on first use: validating a config imports neither, and a
rerun whose features are stored never builds the backbone.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from core.learners.base import LEARNERS, BaseLearner, LearnerError, full_proba, one_class_proba
from core.params import Interval, Options, ParamError, Text

# backbone -> (module replaced by the identity, torchvision's default weights, their file name).
# The file names let a store hit and the offline message go without importing torchvision;
# tests/core/test_pretrained.py pins them against torchvision's own weights enums.
BACKBONES: dict[str, tuple[str, str, str]] = {
    "resnet18": ("fc", "ResNet18_Weights.IMAGENET1K_V1", "resnet18-f37072fd.pth"),
    "resnet50": ("fc", "ResNet50_Weights.IMAGENET1K_V2", "resnet50-11ad3fa6.pth"),
    "mobilenet_v3_small": ("classifier", "MobileNet_V3_Small_Weights.IMAGENET1K_V1", "mobilenet_v3_small-047dcff4.pth"),
    "efficientnet_b0": ("classifier", "EfficientNet_B0_Weights.IMAGENET1K_V1", "efficientnet_b0_rwightman-7f5810bc.pth"),
    "convnext_tiny": ("classifier.2", "ConvNeXt_Tiny_Weights.IMAGENET1K_V1", "convnext_tiny-983f1562.pth"),
    "vit_b_16": ("heads", "ViT_B_16_Weights.IMAGENET1K_V1", "vit_b_16-c867db91.pth"),
}
WEIGHTS_URL = "https://download.pytorch.org/models/{}"
FIXED_INPUT = {"vit_b_16": 224}  # position embeddings fix the input size
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# What the pixels go through before the backbone; part of the feature store's key.
PREPROCESSING = "rgb-bilinear-antialias-resize-imagenet-normalise-v1"
NONE_INIT_SEED = 0  # weights=none: one fixed random init, so every run and repeat shares the features
HEADS = ("logistic", "linear", "label_spreading", "self_training")
SEMI_SUPERVISED_HEADS = ("label_spreading", "self_training")  # core.learners.semi_heads: they use the unlabelled pool
DEVICES = ("auto", "cpu", "cuda")

# Where the store's chunks are extracted: unset, in this process; a Ray address ('auto', ray://HOST:PORT): as
# Ray tasks on that cluster (the sweep's --ray-address; a weights file must be at the same path on every node).
RAY_ADDRESS_VARIABLE = "ALBENCH_FEATURES_RAY_ADDRESS"

_WEIGHTS_RULE = "'default' (torchvision's ImageNet weights), 'none' (random init) or the path of a state-dict file"


def _parse_weights(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"weights must be {_WEIGHTS_RULE}; got {value!r}")
    if value in ("default", "none"):
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"weights must be {_WEIGHTS_RULE}; no file {value!r}")
    return str(path)


def torch_hub_dir() -> Path:
    """torch.hub.get_dir() without importing torch: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub, else ~/.cache/torch/hub."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(home)) / "hub"


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str) -> str:
    """sha256 of a weights file, remembered per (path, size, mtime) in this process."""
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_HASHES:
        from core.files import file_sha256 as read_sha256

        _FILE_HASHES[key] = read_sha256(path)
    return _FILE_HASHES[key]


def weights_identity(backbone: str, weights: str) -> str:
    """What the features' weights are, for the store key: torchvision's weights name, 'none-seed0' or 'sha256:...'."""
    if weights == "default":
        return f"torchvision:{BACKBONES[backbone][1]}"
    if weights == "none":
        return f"none-seed{NONE_INIT_SEED}"
    return f"sha256:{file_sha256(weights)}"


def offline_message(backbone: str, reason: str) -> str:
    file = BACKBONES[backbone][2]
    hub = torch_hub_dir() / "checkpoints"
    return (f"weights=default needs torchvision's ImageNet weights for {backbone}, the file {file}, which is not in "
            f"{hub} and could not be downloaded ({reason}). Download {WEIGHTS_URL.format(file)} where there is "
            f"network access and put it in $TORCH_HOME/hub/checkpoints/ (here: {hub}/), or use weights=PATH "
            "(a state-dict file) or weights=none (random init)")


@LEARNERS.register("pretrained")
class PretrainedLearner(BaseLearner):
    """A frozen torchvision backbone (features from the feature store) with a logistic or linear head."""

    parameters = {
        "backbone": Options(tuple(BACKBONES), default="resnet18", help="the torchvision model whose features are used"),
        "weights": Text(rule=_WEIGHTS_RULE, parse=_parse_weights, default="default",
                        help="default: ImageNet weights (downloaded once by torchvision, hash-checked); "
                             "none: random init; or a local state-dict file"),
        "input_size": Interval(int, 32, None, default=224, at_most=1024,
                               help="images are resized to this many pixels a side (vit_b_16: 224)"),
        "head": Options(HEADS, default="logistic",
                        help="logistic: scikit-learn on standardised features; linear: torch layer with dropout "
                             "(MC-dropout samples); label_spreading: k-NN graph over labelled + unlabelled features; "
                             "self_training: logistic refitted on its confident pseudo-labels"),
        "C": Interval(float, 0.0, None, closed="neither", default=1.0,
                      help="inverse regularisation strength (logistic and self_training heads)"),
        "n_neighbors": Interval(int, 1, None, default=10, at_most=1_000,
                                help="label_spreading head: neighbours per sample in the k-NN graph"),
        "alpha": Interval(float, 0.0, 1.0, closed="neither", default=0.99,
                          help="label_spreading head: share of a label taken from the neighbours (0.99 as in "
                               "Zhou et al. 2004: labels travel far along the graph)"),
        "threshold": Interval(float, 0.0, 1.0, closed="neither", default=0.9,
                              help="self_training head: pseudo-label unlabelled samples predicted above this"),
        "dropout": Interval(float, 0.0, 1.0, closed="left", default=0.5, help="dropout before the linear head"),
        "mc_samples": Interval(int, 0, None, default=0, at_most=1_000,
                               help="linear head: MC-dropout passes averaged into the probabilities; 2 or more "
                                    "also give probability samples"),
        "epochs": Interval(int, 1, None, default=200, at_most=100_000,
                           help="linear head: full-batch Adam steps per fit"),
        "lr": Interval(float, 0.0, 10.0, closed="right", default=0.01, help="linear head: Adam learning rate"),
        "batch_size": Interval(int, 1, None, default=64, at_most=65_536, help="backbone inference batch size"),
        "device": Options(DEVICES, default="auto", help="auto: cuda when torch sees a GPU, else cpu"),
        "threads": Interval(int, 0, None, default=0, at_most=256, help="torch CPU threads; 0: one per core"),
    }
    provides = frozenset({"proba", "features"})
    provides_when = {"proba_samples": "head=linear, mc_samples >= 2 and dropout > 0"}
    blas_threads = 1  # the heads are small fits on a few hundred rows
    frozen_features = True  # the query map offers the backbone's features once, not per round
    expensive_fit = True  # the ceiling fits on every image: a backbone pass over the whole pool
    features_file_: Path | None = None  # the store's features.npy once attached with a cache

    def check(self, values: dict[str, Any]) -> None:
        self.semi_supervised = values["head"] in SEMI_SUPERVISED_HEADS  # per instance: the head decides
        fixed = FIXED_INPUT.get(values["backbone"])
        if fixed is not None and values["input_size"] != fixed:
            raise ParamError(f"learner_params.input_size must be {fixed} for backbone={values['backbone']} "
                             f"(its position embeddings fix the size); got {values['input_size']}",
                             "learner_params.input_size")
        if values["device"] == "cuda":  # asked for by name: check now (imports torch), not at extraction
            import torch

            if not torch.cuda.is_available():
                raise ParamError("device='cuda' but torch sees no CUDA device; use device=auto or cpu",
                                 "learner_params.device")

    @classmethod
    def provided(cls, params: Mapping[str, Any]) -> frozenset[str]:
        stochastic = params["head"] == "linear" and params["mc_samples"] >= 2 and params["dropout"] > 0
        return cls.provides | {"proba_samples"} if stochastic else cls.provides

    @classmethod
    def label_settings(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Backbone and weights always shown (defaults too); weights=none marked as a random init."""
        shown = {name: given.get(name, cls.parameters[name].default) for name in ("backbone", "weights")}
        shown.update(given)
        if shown["weights"] == "none":
            shown["weights"] = "none (random init)"
        return shown

    @classmethod
    def cache_identity(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """A weights file's sha256: other weights at the same path make other runs."""
        weights = given.get("weights", "default")
        return {"weights_sha256": file_sha256(weights)} if weights not in ("default", "none") else {}

    # -- features -------------------------------------------------------------------------------------------
    def attach(self, dataset, cache_root) -> None:
        """Features of `dataset`'s rows come from the feature store under `cache_root`: only the rows that
        are asked for (a run's pool and test split) are extracted, each once."""
        from core.engine.feature_store import open_store

        root = cache_root if cache_root is not None else os.environ.get("ALBENCH_CACHE_DIR") or None
        fields = {"data": dataset.fingerprint, "shape": list(dataset.images.shape), **self._extractor_fields()}
        self._store_args = (dataset.images, fields, root)
        store = open_store(root, fields, len(dataset.images))
        self.features_file_ = store.features_path if root is not None else None
        self._index = _row_index(dataset)

    def _extractor_fields(self) -> dict[str, Any]:
        return {"backbone": self.backbone, "weights": weights_identity(self.backbone, self.weights),
                "input_size": self.input_size, "preprocessing": PREPROCESSING}

    def _describe(self) -> str:
        weights = "random init" if self.weights == "none" else ("ImageNet" if self.weights == "default" else Path(self.weights).name)
        return f"{self.backbone} ({weights}, {self.input_size}px)"

    def _faster(self) -> str:
        """What would make a long extraction shorter, for the store's time estimate."""
        options = []
        if self.input_size > 64 and self.backbone not in FIXED_INPUT:
            options.append(f"learner_params.input_size=64 (about {(self.input_size / 64) ** 2:.0f}x fewer pixels)")
        if self.backbone != "mobilenet_v3_small":
            options.append("a smaller backbone (learner_params.backbone=mobilenet_v3_small)")
        options.append("a smaller --subset")
        if self.device != "cuda":
            options.append("a GPU (device=auto uses one when torch sees it)")
        return ", ".join(options)

    def features(self, X: np.ndarray) -> np.ndarray:
        """float32 (n, d) backbone features of rows X: looked up by content in the attached dataset (extracted
        into its feature store when first asked for), computed directly for rows not in the data."""
        from core.engine.feature_store import stored_features
        from core.stopping import interruptible

        X = np.asarray(X)
        index = getattr(self, "_index", None)
        rows = index.lookup(X) if index is not None and len(X) else np.full(len(X), -1)
        found = rows >= 0
        known = None
        if index is not None and (found.any() or not len(X)):
            images, fields, root = self._store_args
            address = os.environ.get(RAY_ADDRESS_VARIABLE)
            if address:  # chunks as Ray tasks: each worker builds the backbone from these settings
                from core.engine.feature_store import RayChunks

                extract, chunks_on = _BackboneExtract(self.info, self.values), RayChunks(address)
            else:
                extract, chunks_on = self._extract, None
            known = stored_features(images, fields, extract, root=root, desc=self._describe(),
                                    setup=lambda: self._backbone, rows=rows[found], hint=self._faster(),
                                    first_chunk=self.batch_size, chunks_on=chunks_on)
            if found.all():
                return np.asarray(known, dtype=np.float32)
        with interruptible():  # rows from outside the data: nothing to keep, so a stop ends them at once
            extra = self._extract(X[~found])
        out = np.empty((len(X), extra.shape[1]), dtype=np.float32)
        out[~found] = extra
        if known is not None:
            out[found] = known
        return out

    @cached_property
    def _backbone(self):
        """(model, torch device): the backbone with its classifier replaced by the identity, in eval mode."""
        import torch
        from torchvision.models import get_model

        device = torch.device("cuda" if self.device == "cuda" or (self.device == "auto" and torch.cuda.is_available())
                              else "cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(NONE_INIT_SEED)
            model = get_model(self.backbone, weights=None)
        state = self._state_dict()
        replaced = BACKBONES[self.backbone][0]
        if state is not None:
            _check_state_dict(state, model, self.weights, self.backbone, replaced)
            model.load_state_dict(state, strict=False)
        parent, _, attribute = replaced.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, attribute, torch.nn.Identity())
        return model.eval().to(device), device

    def _state_dict(self):
        import torch

        if self.weights == "none":
            return None
        if self.weights != "default":
            return _read_state_dict(self.weights)
        from torchvision.models import get_weight

        weights = get_weight(BACKBONES[self.backbone][1])
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if not cached.exists() and os.environ.get("ALBENCH_OFFLINE") == "1":
            raise LearnerError(offline_message(self.backbone, "ALBENCH_OFFLINE=1"), "learner_params.weights")
        try:
            with contextlib.redirect_stdout(sys.stderr):  # torch.hub announces downloads on stdout
                return weights.get_state_dict(progress=True, check_hash=True, weights_only=True)
        except OSError as exc:  # URLError included: no network
            raise LearnerError(offline_message(self.backbone, f"{type(exc).__name__}: {exc}"),
                               "learner_params.weights") from None
        except RuntimeError as exc:  # torch.hub's hash check
            raise LearnerError(offline_message(self.backbone, str(exc)), "learner_params.weights") from None

    def _extract(self, X: np.ndarray) -> np.ndarray:
        """The backbone's features for uint8 images (n, h, w, c): float32 (n, d)."""
        import torch
        from torch.nn import functional as F

        model, device = self._backbone
        if device.type == "cpu":
            torch.set_num_threads(self.threads or os.cpu_count() or 1)
        mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        size = self.input_size

        def prepare(batch: torch.Tensor) -> torch.Tensor:
            x = batch.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            if x.shape[-2:] != (size, size):
                x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            return ((x - mean) / std).contiguous()  # NCHW-contiguous, as the backbone expects

        out: list[np.ndarray] = []
        with torch.inference_mode():
            if device.type == "cuda":
                loader = torch.utils.data.DataLoader(_Batches(X, self.batch_size), batch_size=None, pin_memory=True,
                                                     num_workers=2)
                with torch.autocast("cuda", dtype=torch.float16):
                    for batch in loader:
                        out.append(model(prepare(batch)).float().cpu().numpy())
            else:
                for start in range(0, len(X), self.batch_size):
                    batch = torch.from_numpy(np.ascontiguousarray(X[start:start + self.batch_size]))
                    out.append(model(prepare(batch)).numpy())
        return np.concatenate(out).astype(np.float32, copy=False)

    # -- the head ----------------------------------------------------------------------------------------------
    def fit(self, X, y, *, X_unlabeled=None):
        F_ = self.features(X)
        y = np.asarray(y, dtype=np.int64)
        self.classes_, self.n_fit_labels_ = np.unique(y), len(y)
        semi = self.head in SEMI_SUPERVISED_HEADS and X_unlabeled is not None
        F_unl = self.features(X_unlabeled) if semi else F_[:0]
        # A semi-supervised head standardises by the whole pool's statistics, the same every round (the
        # features are frozen), so its k-NN graph is built once per run (semi_heads.SpreadGraph)
        if semi:
            from core.learners.semi_heads import pool_statistics

            self.mean_, self.scale_ = pool_statistics(np.concatenate([F_, F_unl]))
        else:
            self.mean_, self.scale_ = F_.mean(axis=0), F_.std(axis=0)
        self.scale_[self.scale_ < 1e-6] = 1.0
        Z = (F_ - self.mean_) / self.scale_
        self.model_ = None
        self.transduction_proba_ = None
        if self.classes_.size == 1:
            return self
        if self.head in SEMI_SUPERVISED_HEADS:
            from core.learners.semi_heads import SelfTrainingHead, SpreadGraph, SpreadHead

            if self.head == "label_spreading":
                if getattr(self, "spread_graph_", None) is None:
                    self.spread_graph_ = SpreadGraph()  # kept across this run's fits
                head = SpreadHead(self.n_neighbors, self.alpha, seed=self.seed, graph=self.spread_graph_)
            else:
                head = SelfTrainingHead(self.C, self.threshold, seed=self.seed)
            Z_unl = (F_unl - self.mean_) / self.scale_
            self.model_ = head
            self.transduction_proba_ = full_proba(head.fit(Z, y, Z_unl), head.classes_, self.info.n_classes)
        elif self.head == "logistic":
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.linear_model import LogisticRegression

            self.model_ = LogisticRegression(C=self.C, max_iter=1000, random_state=self.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # standardised features: rare, and harmless here
                self.model_.fit(Z, y)
        else:
            self.model_ = _fit_linear(Z, y, self.info.n_classes, self.classes_, seed=(self.seed, len(y)),
                                      dropout=self.dropout, epochs=self.epochs, lr=self.lr)
        return self

    def _standardised(self, X) -> np.ndarray:
        return (self.features(X) - self.mean_) / self.scale_

    def predict_proba(self, X):
        return self.infer(X, frozenset({"proba"}))["proba"]

    def embed(self, X):
        """The backbone's features (frozen: the same every round)."""
        return self.features(X)

    def predict_proba_samples(self, X):
        return self.infer(X, frozenset({"proba_samples"}))["proba_samples"]

    def infer(self, X, want):
        out: dict[str, np.ndarray] = {}
        features = self.features(X)
        if "features" in want:
            out["features"] = features
        if not ({"proba", "proba_samples"} & set(want)):
            return out
        if "proba_samples" in want and not type(self).provided(self.values) >= {"proba_samples"}:
            raise ParamError(f"learner_params.mc_samples must be an integer >= 2 with head=linear and dropout > 0 "
                             f"for probability samples (MC dropout); got mc_samples={self.mc_samples}, "
                             f"head={self.head}", "learner_params.mc_samples")
        Z = (features - self.mean_) / self.scale_
        n, n_classes = len(X), self.info.n_classes
        if self.model_ is None:
            proba = one_class_proba(n, self.classes_[0], n_classes)
            samples = np.broadcast_to(proba, (max(self.mc_samples, 1), n, n_classes))
        elif self.head != "linear":  # logistic, label_spreading, self_training
            proba = full_proba(self.model_.predict_proba(Z), self.model_.classes_, n_classes)
            samples = None
        else:
            proba, samples = _predict_linear(self.model_, Z, self.mc_samples if self.mc_samples >= 2 else 0,
                                             seed=(self.seed, self.n_fit_labels_, 2**31))
        if "proba" in want:
            out["proba"] = proba
        if "proba_samples" in want:
            out["proba_samples"] = np.array(samples, dtype=np.float32)
        return out


_STATE_DICT_FIX = "save one with torch.save(model.state_dict(), PATH)"


def _read_state_dict(path: str) -> Mapping[str, Any]:
    """The tensors of a state-dict file, read with weights_only=True (no code in the file runs); one line
    naming the file and what is wrong with it otherwise."""
    import pickle

    import torch

    def refuse(what: str) -> LearnerError:
        return LearnerError(f"weights={path!r} {what}; {_STATE_DICT_FIX}", "learner_params.weights")

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only met a class it will not build: a whole pickled model
        if "Unsupported global" in str(exc):
            raise refuse("holds pickled Python objects, not only tensors (a whole model saved with "
                         "torch.save(model)?); weights_only loading refuses to run them") from None
        raise refuse("is not a torch file (neither a torch.save zip archive nor a pickle of tensors)") from None
    except (OSError, RuntimeError, EOFError, ValueError, TypeError, AttributeError, ImportError,
            IndexError, KeyError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise refuse(f"is not a readable torch file ({type(exc).__name__}: {first[:200]})") from None
    if not isinstance(state, Mapping) or not state:
        raise refuse(f"holds a {type(state).__name__}, not a state dict (parameter name -> tensor)")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise refuse("is a dict whose values are not all tensors (a training checkpoint? save its 'model' "
                     "state dict)")
    return state


def _check_state_dict(state, model, path: str, backbone: str, replaced: str) -> None:
    """The file's names and tensor sizes against the backbone's (its replaced classifier aside)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith(replaced + ".")}
    given = {k: tuple(v.shape) for k, v in state.items() if not k.startswith(replaced + ".")}
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    if missing or unexpected:
        raise LearnerError(f"weights={path!r} is not a {backbone} state dict ({len(missing)} "
                           f"parameters missing, e.g. {missing[:3]}; {len(unexpected)} unexpected, e.g. "
                           f"{unexpected[:3]}); {_STATE_DICT_FIX}", "learner_params.weights")
    wrong = [k for k in expected if expected[k] != given[k]]
    if wrong:
        k = wrong[0]
        raise LearnerError(f"weights={path!r} has the wrong sizes for {backbone} ({len(wrong)} "
                           f"tensors, e.g. {k}: {list(given[k])} in the file, {list(expected[k])} in the model); "
                           f"{_STATE_DICT_FIX}", "learner_params.weights")


class _BackboneExtract:
    """The backbone's `_extract` as a small picklable value (settings, not the model or the data) for Ray tasks;
    each worker process builds the backbone once."""

    _built: dict[str, "PretrainedLearner"] = {}

    def __init__(self, info, values: Mapping[str, Any]) -> None:
        self.info, self.values = info, dict(values)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        import json

        key = json.dumps(self.values, sort_keys=True, default=str)
        if key not in self._built:
            self._built[key] = PretrainedLearner(self.info, **self.values)
        return self._built[key]._extract(X)


class _Batches:
    """Consecutive batches of an image array, for a DataLoader (batch_size=None) feeding the GPU."""

    def __init__(self, images: np.ndarray, batch_size: int) -> None:
        self.images, self.batch_size = images, batch_size

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, i: int):
        import torch

        return torch.from_numpy(np.ascontiguousarray(self.images[i * self.batch_size:(i + 1) * self.batch_size]))


_ROW_INDEXES: dict[str, Any] = {}


def _row_index(dataset):
    """One content index per dataset in this process (every run of a comparison shares it)."""
    from core.engine.feature_store import RowIndex

    if dataset.fingerprint not in _ROW_INDEXES:
        if len(_ROW_INDEXES) >= 4:
            _ROW_INDEXES.pop(next(iter(_ROW_INDEXES)))
        _ROW_INDEXES[dataset.fingerprint] = RowIndex(dataset.images)
    return _ROW_INDEXES[dataset.fingerprint]


def _torch_seed(key: tuple[int, ...]) -> int:
    return int(np.random.SeedSequence(list(key)).generate_state(1, dtype=np.uint64)[0] % (2**63))


def _fit_linear(Z, y, n_classes, classes, *, seed, dropout, epochs, lr):
    """A linear layer with dropout on standardised features, full-batch Adam, from a seeded init (CPU)."""
    import torch
    from torch.nn import functional as F

    unseen = torch.full((n_classes,), float("-inf"))
    unseen[torch.from_numpy(classes)] = 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_torch_seed(seed))
        layer = torch.nn.Linear(Z.shape[1], n_classes)
        drop = torch.nn.Dropout(dropout)
        x, t = torch.from_numpy(np.ascontiguousarray(Z, dtype=np.float32)), torch.from_numpy(y)
        optimizer = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=1e-4)
        for _ in range(epochs):
            loss = F.cross_entropy(layer(drop(x)) + unseen, t)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    if not np.isfinite(float(loss.detach())):
        raise LearnerError(f"the linear head diverged (loss {float(loss)}) with lr={lr:g}; lower lr (default 0.01)",
                           "learner_params.lr")
    return {"layer": layer.eval(), "dropout": dropout, "unseen": unseen}


def _predict_linear(model, Z, mc_samples: int, *, seed):
    """(proba, samples): softmax of the eval pass, or the mean of `mc_samples` dropout passes and the passes."""
    import torch
    from torch.nn import functional as F

    layer, unseen = model["layer"], model["unseen"]
    x = torch.from_numpy(np.ascontiguousarray(Z, dtype=np.float32))
    with torch.inference_mode():
        if mc_samples < 2:
            return F.softmax(layer(x) + unseen, dim=1).numpy(), None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_torch_seed(seed))
            samples = torch.stack([F.softmax(layer(F.dropout(x, model["dropout"], training=True)) + unseen, dim=1)
                                   for _ in range(mc_samples)]).numpy()
    return samples.mean(axis=0), samples
