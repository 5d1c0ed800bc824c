"""Train / validation / test splits, stratified by class and seeded, for every source alike.

The official test set is the test split where a source has one (MNIST,
CIFAR, SVHN, an image folder with train/ and test/, an .npz with x_test);
otherwise a fraction of the data is. Validation is then taken from what is
left, and ``max_train`` keeps a stratified subset of the training split.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_fraction
from .sources import Source


def check_fractions(name: str, has_test: bool, val_default: float, test_default: float,
                    val_fraction, test_fraction) -> tuple[float, float | None]:
    """The (validation, test) fractions, checked; test is None when ``has_test``."""
    val = check_fraction("val_fraction", val_default if val_fraction is None else val_fraction)
    if has_test:
        if test_fraction is not None:
            raise ValueError(
                f"test_fraction: got {test_fraction!r}, but dataset {name!r} has an official "
                "test set, which is always the test split; expected None"
            )
        return val, None
    test = check_fraction("test_fraction", test_default if test_fraction is None
                          else test_fraction)
    if val + test >= 1:
        raise ValueError(
            f"val_fraction + test_fraction: got {val} + {test} = {val + test}, "
            "expected a sum < 1 so that examples are left to train on"
        )
    return val, test


def stratified_take(labels: np.ndarray, count: int, seed: int,
                    argument: str) -> tuple[np.ndarray, np.ndarray]:
    """Positions (kept, taken) with ``count`` taken at random, class proportions preserved.

    Both are shuffled; ``argument`` names the option that asked for the split
    in the error raised when the counts cannot be stratified.
    """
    positions = np.arange(len(labels))
    if count == 0:
        return positions, positions[:0]
    # scikit-learn takes a second to import: only a command that loads data pays for it
    from sklearn.model_selection import train_test_split

    try:
        kept, taken = train_test_split(positions, test_size=count, stratify=labels,
                                       random_state=seed, shuffle=True)
    except ValueError as error:
        raise ValueError(
            f"{argument}: cannot take a stratified {count} of {len(labels)} examples in "
            f"{len(np.unique(labels))} classes ({error})"
        ) from None
    return kept, taken


def split_source(source: Source, val_fraction: float, test_fraction: float | None,
                 max_train: int | None, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The three splits of ``source`` as {"train": (x, y), ...}, not yet transformed."""
    test_seed, val_seed, subset_seed = (int(s) for s in np.random.SeedSequence(seed)
                                        .generate_state(3))
    pool = np.arange(len(source.y))
    if test_fraction is None:
        test = (source.x_test, source.y_test)
    else:
        count = round(test_fraction * len(pool))
        kept, taken = stratified_take(source.y, count, test_seed, "test_fraction")
        test = (source.x[taken], source.y[taken])
        pool = pool[kept]
    # Validation as a fraction of all the data (no official test) or of the training file
    count = round(val_fraction * len(source.y))
    kept, taken = stratified_take(source.y[pool], count, val_seed, "val_fraction")
    val_index, train_index = pool[taken], pool[kept]
    if max_train is not None and max_train < len(train_index):
        drop = len(train_index) - max_train
        kept, _ = stratified_take(source.y[train_index], drop, subset_seed, "max_train")
        train_index = train_index[kept]
    return {
        "train": (source.x[train_index], source.y[train_index]),
        "val": (source.x[val_index], source.y[val_index]),
        "test": test,
    }
