"""The steps after reading, the same for every source: split, channels and resize, normalise.

load_dataset (datasets.py) reads a named source and hands it here;
dataset_from_arrays takes the user's arrays from Python the same way, so a
Dataset built from arrays is what load_dataset would build from the same data.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int
from .arrays import source_from_arrays
from .dataset import Dataset
from .sources import Source
from .splits import check_fractions, split_source
from .transforms import channel_stats, check_size, match_channels
from .transforms import normalize as normalize_images  # the functions' `normalize` is a flag
from .transforms import resize as resize_images  # and their `resize` a size


def check_transforms(seed, resize, channels, max_train):
    """seed, resize, channels and max_train checked, as load_dataset and from_arrays take them."""
    seed = check_int("seed", seed, 0)
    size = None if resize is None else check_size(resize)
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise ValueError(f"channels: got {channels!r}, expected 1 (grey), 3 (RGB) or None")
    if max_train is not None:
        max_train = check_int("max_train", max_train, 1)
    return seed, size, channels, max_train


def dataset_from_arrays(x_train, y_train, x_test=None, y_test=None, *, name: str = "arrays",
                        num_classes: int | None = None, class_names=None,
                        layout: str | None = None, seed: int = 0,
                        val_fraction: float | None = None, test_fraction: float | None = None,
                        resize: tuple[int, int] | None = None, channels: int | None = None,
                        normalize: bool = True, max_train: int | None = None) -> Dataset:
    """A Dataset from host arrays, through the same split, resize, channels and normalisation.

    x_*: images (n, H, W), (n, C, H, W) or (n, H, W, C) (``layout`` "NCHW" /
    "NHWC" where the channel axis is ambiguous), uint8 0..255 (scaled to
    [0, 1]) or floats (kept); y_*: (n,) integer labels in [0, num_classes)
    (num_classes: default the largest label + 1, or len(class_names)).
    With x_test / y_test they are the test split and validation is
    ``val_fraction`` (default 0.1) of the training arrays; without, the test
    split is ``test_fraction`` (default 0.2) of them. The other arguments are
    load_dataset's.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: got {name!r}, expected a non-empty string")
    seed, size, channels, max_train = check_transforms(seed, resize, channels, max_train)
    val, test = check_fractions(name, x_test is not None or y_test is not None, 0.1, 0.2,
                                val_fraction, test_fraction)
    source = source_from_arrays(x_train, y_train, x_test, y_test, num_classes=num_classes,
                                class_names=class_names, layout=layout)
    return prepare(name, source, val, test, size, channels, normalize, max_train, seed)


def prepare(name: str, source: Source, val: float, test: float | None, size, channels,
             normalize: bool, max_train: int | None, seed: int) -> Dataset:
    """Steps 2 to 4 of the module's doc: split, match channels and resize, normalise."""
    splits = split_source(source, val, test, max_train, seed)

    for split, (x, y) in splits.items():
        if channels is not None:
            x = match_channels(x, channels)
        if size is not None and size != x.shape[2:]:
            x = resize_images(x, size)
        splits[split] = (np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int64))

    num_channels = splits["train"][0].shape[1]
    mean, std = (0.0,) * num_channels, (1.0,) * num_channels
    if normalize:
        if len(splits["train"][1]) == 0:
            raise ValueError(f"dataset {name!r}: the training split is empty, cannot normalise")
        mean, std = channel_stats(splits["train"][0])
        splits = {split: (normalize_images(x, mean, std), y) for split, (x, y) in splits.items()}
    return Dataset(
        name=name,
        x_train=splits["train"][0], y_train=splits["train"][1],
        x_val=splits["val"][0], y_val=splits["val"][1],
        x_test=splits["test"][0], y_test=splits["test"][1],
        num_classes=source.num_classes,
        mean=mean, std=std,
        class_names=source.class_names,
    )
