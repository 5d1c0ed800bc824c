"""The papers' architectures: LeNet-300-100, Conv-2/4/6, VGG-19, ResNet-20, ResNet-50."""

from ..nn import prunable_layers
from .registry import (
    MODEL_NAMES,
    ModelSpec,
    build_like,
    count_weights,
    get_model,
    summary,
)

__all__ = [
    "MODEL_NAMES",
    "ModelSpec",
    "build_like",
    "count_weights",
    "get_model",
    "prunable_layers",
    "summary",
]
