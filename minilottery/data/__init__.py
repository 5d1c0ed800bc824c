"""Datasets and batches: load_dataset returns NCHW float32 splits; batches feed the device."""

from .batches import BatchIterator, iterate_batches
from .cifar import read_cifar_batch, read_cifar_bin
from .datasets import (
    DATASET_NAMES,
    Dataset,
    check_files,
    dataset_from_arrays,
    default_dataset,
    load_dataset,
)
from .idx import parse_idx, read_idx
from .safe_pickle import RefusedPickleError, safe_load
from .svhn import read_svhn_mat
from .synthetic import SYNTHETIC_DEFAULTS, make_synthetic
from .transforms import channel_stats, interpolation_matrix, match_channels, normalize, resize

__all__ = [
    "DATASET_NAMES",
    "SYNTHETIC_DEFAULTS",
    "BatchIterator",
    "Dataset",
    "RefusedPickleError",
    "channel_stats",
    "check_files",
    "dataset_from_arrays",
    "default_dataset",
    "interpolation_matrix",
    "iterate_batches",
    "load_dataset",
    "make_synthetic",
    "match_channels",
    "normalize",
    "parse_idx",
    "read_cifar_batch",
    "read_cifar_bin",
    "read_idx",
    "read_svhn_mat",
    "resize",
    "safe_load",
]
