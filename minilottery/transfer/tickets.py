"""The transferred network: the source's weights and masks, with a fresh output layer."""

from __future__ import annotations

import numpy as np

from ..nn import Module, prunable_layers
from ..prune import output_layer


def output_prefix(model: Module) -> str:
    """The module name of the output layer ("fc", "5", "classifier.5")."""
    return output_layer(model).rsplit(".", 1)[0] if "." in output_layer(model) else ""


def transferred_state(model: Module, reset_weights) -> dict[str, np.ndarray]:
    """The source's reset weights everywhere except the output layer, which keeps the
    fresh weights ``model`` was built with (its bias included)."""
    prefix = output_prefix(model) + "."
    state = model.state_dict()
    unknown = sorted(set(reset_weights) - set(state))
    missing = sorted(name for name in set(state) - set(reset_weights)
                     if not name.startswith(prefix))
    if unknown or missing:
        raise ValueError(f"source weights do not fit the target model: unknown {unknown}, "
                         f"missing {missing}; expected the same architecture")
    for name, array in reset_weights.items():
        if not name.startswith(prefix):
            if np.shape(array) != state[name].shape:
                raise ValueError(f"source weights: {name!r} has shape {np.shape(array)}, the "
                                 f"target model expects {state[name].shape}")
            state[name] = np.asarray(array, dtype=state[name].dtype)
    return state


def transferred_masks(model: Module, source_masks, output_mask: str,
                      seed: int) -> dict[str, np.ndarray]:
    """The source masks for every hidden layer; the replaced output layer dense, or random
    with as many weights kept as the source output layer."""
    out = output_layer(model)
    shape = tuple(dict(prunable_layers(model))[out].params["weight"].shape)
    masks = {name: np.asarray(m, dtype=bool) for name, m in source_masks.items() if name != out}
    masks[out] = np.ones(shape, dtype=bool)
    if output_mask == "random":
        # Keep the source output layer's fraction of weights, at random positions
        kept = round(np.count_nonzero(source_masks[out]) / np.size(source_masks[out])
                     * masks[out].size)
        chosen = np.random.default_rng(seed).choice(masks[out].size, size=kept, replace=False)
        masks[out] = np.zeros(masks[out].size, dtype=bool)
        masks[out][chosen] = True
        masks[out] = masks[out].reshape(shape)
    return masks
