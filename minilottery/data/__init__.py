"""Datasets and batches: load_dataset returns NCHW float32 splits; batches feed the device."""

from .batches import BatchIterator, iterate_batches
from .datasets import DATASET_NAMES, Dataset, default_dataset, load_dataset
from .sources import parse_idx, read_cifar_batch, read_idx
from .synthetic import SYNTHETIC_DEFAULTS, make_synthetic
from .transforms import channel_stats, interpolation_matrix, match_channels, normalize, resize

__all__ = [
    "DATASET_NAMES",
    "SYNTHETIC_DEFAULTS",
    "BatchIterator",
    "Dataset",
    "channel_stats",
    "default_dataset",
    "interpolation_matrix",
    "iterate_batches",
    "load_dataset",
    "make_synthetic",
    "match_channels",
    "normalize",
    "parse_idx",
    "read_cifar_batch",
    "read_idx",
    "resize",
]
