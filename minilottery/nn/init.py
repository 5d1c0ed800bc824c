"""Weight initialisation, drawn on the host with a seeded NumPy generator.

Weights are always drawn on the CPU and then moved to the device, so a NumPy
run and a CuPy run of the same seed start from the same ticket.
"""

from __future__ import annotations

import numpy as np

INITS = ("glorot_normal", "kaiming_normal", "uniform_fan_in")


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a Linear (out, in) or Conv2d (out, in, kh, kw) weight."""
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def draw(
    init: str, shape: tuple[int, ...], rng: np.random.Generator, dtype=np.float32
) -> np.ndarray:
    """Draw a weight of ``shape`` with the scheme ``init`` on the host.

    - "glorot_normal": N(0, 2 / (fan_in + fan_out)), the LTH paper's
      "Gaussian Glorot" for LeNet and the Conv-n nets;
    - "kaiming_normal": N(0, 2 / fan_in), He et al., for VGG and ResNet;
    - "uniform_fan_in": U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default.
    """
    fan_in, fan_out = fans(shape)
    if init == "glorot_normal":
        weight = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
    elif init == "kaiming_normal":
        weight = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    elif init == "uniform_fan_in":
        bound = 1.0 / np.sqrt(fan_in)
        weight = rng.uniform(-bound, bound, size=shape)
    else:
        raise ValueError(f"init: got {init!r}, expected one of {', '.join(INITS)}")
    return weight.astype(dtype)


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A NumPy generator from a generator, a seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
