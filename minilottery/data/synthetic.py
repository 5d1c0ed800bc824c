"""A generated image task: noisy, shifted, contrast-scaled copies of smooth class prototypes.

It needs no download and no extra package, yet is not trivial: a linear model
learns it well above chance but not perfectly, because the random shifts move
each prototype's blobs across pixels. The task (prototypes and examples) comes
from a fixed ``task_seed``, so every split seed of ``load_dataset`` sees the
same images, only divided differently.
"""

from __future__ import annotations

import numpy as np

from .sources import Source
from .transforms import resize

TASK_SEED = 1803_03635  # the LTH paper's arXiv number: any fixed value would do
SYNTHETIC_DEFAULTS = {
    "num_examples": 3000,
    "image_shape": (1, 16, 16),
    "num_classes": 10,
    "noise": 0.6,
    "max_shift": 2,
    "task_seed": TASK_SEED,
}


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"synthetic: {name} got {value!r}, expected an int >= {minimum}")
    return int(value)


def check_synthetic_options(options: dict) -> dict:
    """The defaults updated with ``options``, each checked; unknown names are an error."""
    unknown = sorted(set(options) - set(SYNTHETIC_DEFAULTS))
    if unknown:
        raise ValueError(
            f"synthetic: unknown option(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(SYNTHETIC_DEFAULTS)}"
        )
    merged = {**SYNTHETIC_DEFAULTS, **options}
    num_classes = _positive_int("num_classes", merged["num_classes"], 2)
    num_examples = _positive_int("num_examples", merged["num_examples"], 2 * num_classes)
    shape = merged["image_shape"]
    if (not isinstance(shape, (tuple, list)) or len(shape) != 3
            or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                   for d in shape)):
        raise ValueError(f"synthetic: image_shape got {shape!r}, expected (C, H, W) of ints >= 1")
    noise = merged["noise"]
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"synthetic: noise got {noise!r}, expected a float >= 0")
    return {
        "num_examples": num_examples,
        "image_shape": tuple(int(d) for d in shape),
        "num_classes": num_classes,
        "noise": float(noise),
        "max_shift": _positive_int("max_shift", merged["max_shift"], 0),
        "task_seed": _positive_int("task_seed", merged["task_seed"], 0),
    }


def prototypes(num_classes: int, image_shape, task_seed: int = TASK_SEED) -> np.ndarray:
    """One smooth random pattern per class in [0, 1]: (num_classes, C, H, W) float32.

    Random values on a coarse grid (about a quarter of the size), upsampled
    bilinearly: blobs a few pixels wide, different for each class.
    """
    c, h, w = image_shape
    rng = np.random.default_rng(task_seed)
    coarse = rng.random((num_classes, c, max(2, -(-h // 4)), max(2, -(-w // 4))))
    smooth = resize(coarse.astype(np.float32), (h, w))
    low = smooth.min(axis=(1, 2, 3), keepdims=True)
    high = smooth.max(axis=(1, 2, 3), keepdims=True)
    return ((smooth - low) / np.maximum(high - low, 1e-6)).astype(np.float32)


def make_synthetic(**options) -> Source:
    """Generate the task: x (num_examples, C, H, W) float32, y (num_examples,) int64.

    Options (see SYNTHETIC_DEFAULTS): num_examples, image_shape (C, H, W),
    num_classes, noise (std of the added Gaussian noise, images span about
    [0, 1]), max_shift (pixels, in each direction), task_seed.
    """
    opts = check_synthetic_options(options)
    n, k, shift = opts["num_examples"], opts["num_classes"], opts["max_shift"]
    c, h, w = opts["image_shape"]
    protos = prototypes(k, (c, h, w), opts["task_seed"])
    # The examples use their own stream of the same fixed seed: the task never depends on
    # the split seed
    rng = np.random.default_rng([opts["task_seed"], 1])
    # Classes as balanced as n allows, in random order
    y = rng.permutation(np.arange(n) % k).astype(np.int64)
    # Shift by cropping an edge-padded prototype at a random offset in [-shift, shift]
    padded = np.pad(protos, ((0, 0), (0, 0), (shift, shift), (shift, shift)), mode="edge")
    dy = rng.integers(0, 2 * shift + 1, size=n)
    dx = rng.integers(0, 2 * shift + 1, size=n)
    # n 1 1 1, 1 c 1 1, n 1 h 1, n 1 1 w -> n c h w: one gather, no loop over images
    x = padded[
        y[:, None, None, None],
        np.arange(c)[None, :, None, None],
        (dy[:, None] + np.arange(h)[None, :])[:, None, :, None],
        (dx[:, None] + np.arange(w)[None, :])[:, None, None, :],
    ]
    # Contrast scaled around the middle grey, then noise
    contrast = rng.uniform(0.5, 1.5, size=(n, 1, 1, 1))
    x = 0.5 + contrast * (x - 0.5) + opts["noise"] * rng.standard_normal(x.shape)
    return Source(x.astype(np.float32), y, None, None, k)
