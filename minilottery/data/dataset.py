"""Dataset: the train / validation / test splits every source ends as, ready to train on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Train / validation / test splits on the host, and the normalisation applied to them.

    x_*: (n, C, H, W) float32; y_*: (n,) int64 in [0, num_classes). ``mean`` and
    ``std`` (one per channel) are what was subtracted and divided by, computed
    on the training split; (0, ...) and (1, ...) when nothing was normalised.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...] | None = None  # one per class, where the source names them

    def __post_init__(self):
        shape = self.x_train.shape[1:] if getattr(self.x_train, "ndim", 0) == 4 else None
        for split in SPLITS:
            x, y = self.split(split)
            if getattr(x, "ndim", 0) != 4 or x.shape[1:] != shape:
                raise ValueError(
                    f"Dataset: x_{split} has shape {getattr(x, 'shape', None)}, "
                    f"expected (n, C, H, W) with (C, H, W) = {shape}"
                )
            if getattr(y, "shape", None) != (len(x),):
                raise ValueError(
                    f"Dataset: y_{split} has shape {getattr(y, 'shape', None)}, "
                    f"expected ({len(x)},), one label per image of x_{split}"
                )
        if len(self.mean) != shape[0] or len(self.std) != shape[0]:
            raise ValueError(
                f"Dataset: mean and std have {len(self.mean)} and {len(self.std)} values, "
                f"expected one per channel ({shape[0]})"
            )
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if self.class_names is not None:
            names = tuple(str(n) for n in self.class_names)
            if len(names) != self.num_classes:
                raise ValueError(f"Dataset: class_names has {len(names)} names, expected one "
                                 f"per class ({self.num_classes})")
            object.__setattr__(self, "class_names", names)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def sizes(self) -> dict[str, int]:
        """Number of examples in each split: {"train": ..., "val": ..., "test": ...}."""
        return {split: len(self.split(split)[1]) for split in SPLITS}

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the split "train", "val" or "test"."""
        if name not in SPLITS:
            raise ValueError(f"split: got {name!r}, expected one of {', '.join(SPLITS)}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def describe(self) -> str:
        """One line: name, split sizes, input shape, classes and normalisation."""
        sizes = self.sizes
        stats = ", ".join(f"{m:.4f}/{s:.4f}" for m, s in zip(self.mean, self.std, strict=True))
        return (
            f"{self.name}: {sizes['train']} train / {sizes['val']} val / {sizes['test']} test, "
            f"input {self.input_shape}, {self.num_classes} classes, "
            f"per-channel mean/std {stats}"
        )

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, input_shape={self.input_shape}, sizes={self.sizes}, "
            f"num_classes={self.num_classes})"
        )
