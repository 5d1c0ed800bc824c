"""Module: the base class of every layer and container.

A module owns three dicts and a list of children:

- ``params``: name -> array, the trainable parameters ("weight", "bias");
- ``grads``: the same names -> the gradients that the last ``backward`` left;
- ``buffers``: state that is saved but not trained (BatchNorm's running
  statistics);
- children: sub-modules, registered by assigning them as attributes, as in
  PyTorch, so a qualified name such as "features.0.weight" is the path of
  attribute names down to the array.

Parameters are never rebound once a model is built: the optimizer and the
masks hold references to them, so every write (an optimizer step, loading a
state dict, a reset to the initial weights) goes in place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from ..backends import Backend, get_backend


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class Module:
    """Base class: forward / backward by hand, parameters and gradients as dicts."""

    def __init__(self, backend: Backend | str | None = None):
        object.__setattr__(self, "_children", {})
        self.params: dict[str, object] = {}
        self.grads: dict[str, object] = {}
        self.buffers: dict[str, object] = {}
        self.training = True
        self.backend = get_backend(backend)
        # Set on a whole model by the layers above, declared here so a model's attributes
        # are all in one place: the masks in force (prune.apply_masks; every optimizer step
        # reads them) and how to build it again (models.get_model's ModelSpec)
        self.masks: dict[str, object] | None = None
        self.spec = None

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self._children[name] = value
        elif name in self._children:
            del self._children[name]
        object.__setattr__(self, name, value)

    @property
    def xp(self):
        """The array module (numpy or cupy) of this module's backend."""
        return self.backend.xp

    # The two passes ----------------------------------------------------------

    def forward(self, x):
        """Compute the output and cache what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, grad_out, need_input_grad: bool = True):
        """Fill ``grads`` from d loss / d output; return d loss / d input.

        With ``need_input_grad=False`` (the first layer of a network, whose
        input is data) the input gradient is not computed and None is returned.
        """
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    # Walking the tree --------------------------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._children.items()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all below it, depth first, with qualified names."""
        yield prefix, self
        for name, child in self._children.items():
            yield from child.named_modules(_join(prefix, name))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def parameter_slots(self) -> Iterator[tuple[str, Module, str]]:
        """(qualified name, owning module, key in its ``params``) for every parameter.

        The optimizer reads ``module.grads[key]`` through these at each step, so
        a layer may hand back a fresh gradient array on every backward pass.
        """
        for prefix, module in self.named_modules():
            for key in module.params:
                yield _join(prefix, key), module, key

    def named_parameters(self) -> Iterator[tuple[str, object]]:
        """(qualified name, array) with PyTorch's naming: "0.weight", "features.3.bias"."""
        for name, module, key in self.parameter_slots():
            yield name, module.params[key]

    def named_grads(self) -> Iterator[tuple[str, object]]:
        """(qualified name, gradient) for the parameters, after a backward pass."""
        for name, module, key in self.parameter_slots():
            if key in module.grads:
                yield name, module.grads[key]

    def parameters(self) -> Iterator[object]:
        for _, array in self.named_parameters():
            yield array

    def num_parameters(self) -> int:
        return sum(int(array.size) for array in self.parameters())

    # Saving and loading ------------------------------------------------------

    def _state_slots(self) -> Iterator[tuple[str, dict, str]]:
        for prefix, module in self.named_modules():
            for store in (module.params, module.buffers):
                for key in store:
                    yield _join(prefix, key), store, key

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters and buffers as host NumPy copies, keyed by qualified name."""
        return {
            name: np.array(self.backend.to_numpy(store[key]), copy=True)
            for name, store, key in self._state_slots()
        }

    def load_state_dict(self, state: Mapping[str, np.ndarray], strict: bool = True) -> None:
        """Copy ``state`` into the parameters and buffers, in place.

        Raises KeyError naming missing or unexpected keys (when ``strict``) and
        ValueError naming the key and both shapes on a shape mismatch; on either
        error nothing has been copied.
        """
        slots = {name: (store, key) for name, store, key in self._state_slots()}
        if strict:
            missing = sorted(set(slots) - set(state))
            unexpected = sorted(set(state) - set(slots))
            if missing or unexpected:
                raise KeyError(
                    f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
                )
        # Check every shape before copying anything: a failed load leaves the model as it was
        updates = []
        for name, value in state.items():
            if name not in slots:
                continue
            store, key = slots[name]
            target = store[key]
            if tuple(np.shape(value)) != tuple(target.shape):
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {tuple(np.shape(value))}, "
                    f"expected {tuple(target.shape)}"
                )
            updates.append((target, value))
        for target, value in updates:
            target[...] = self.backend.asarray(value, dtype=target.dtype)

    # Modes and devices -------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout active, BatchNorm on batch statistics) for all modules."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout off, BatchNorm on its running statistics."""
        return self.train(False)

    def to(self, backend: Backend | str | None = None, dtype=None) -> Module:
        """Move every parameter and buffer to ``backend`` and/or cast to ``dtype``.

        This rebinds the arrays, so build optimizers and masks after calling it.
        """
        target = get_backend(backend) if backend is not None else None
        for module in self.modules():
            old = module.backend
            new = target or old
            for store in (module.params, module.buffers):
                for key, array in store.items():
                    host = old.to_numpy(array)
                    if dtype is not None and np.issubdtype(host.dtype, np.floating):
                        host = host.astype(dtype)
                    store[key] = new.asarray(host)
            module.grads = {}
            module.backend = new
            module._moved()
        return self

    def _moved(self) -> None:
        """Hook for layers holding backend-specific state (Dropout's generator)."""

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._children.items():
            child_lines = repr(child).splitlines()
            lines.append(f"  ({name}): {child_lines[0]}")
            lines.extend("  " + line for line in child_lines[1:])
        if len(lines) == 1:
            return lines[0] + ")"
        return "\n".join(lines) + "\n)"
