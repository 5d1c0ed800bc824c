"""Layers with hand-written forward and backward passes, in PyTorch's layouts."""

from .activation import Dropout, ReLU
from .container import Flatten, Sequential
from .conv import Conv2d, col2im, im2col
from .linear import Linear
from .loss import CrossEntropyLoss
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .prunable import PRUNABLE_TYPES, prunable_layers
from .residual import BasicBlock, Bottleneck

__all__ = [
    "PRUNABLE_TYPES",
    "AvgPool2d",
    "BasicBlock",
    "BatchNorm1d",
    "BatchNorm2d",
    "Bottleneck",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2d",
    "Linear",
    "MaxPool2d",
    "Module",
    "ReLU",
    "Sequential",
    "col2im",
    "im2col",
    "prunable_layers",
]
