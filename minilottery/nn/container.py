"""Structure: Sequential chains layers, Flatten reshapes between conv and dense parts."""

from __future__ import annotations

from .module import Module


class Flatten(Module):
    """(n, d1, d2, ...) -> (n, d1·d2·...)."""

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out, need_input_grad: bool = True):
        return grad_out.reshape(self.x_shape)


class Sequential(Module):
    """Layers applied in order.

    ``Sequential(a, b, c)`` names its children "0", "1", "2" as PyTorch does;
    ``Sequential({"features": f, "classifier": c})`` names them by the keys, so a
    model's parameters read "features.0.weight", "classifier.2.bias".
    """

    def __init__(self, *layers, backend=None):
        if len(layers) == 1 and isinstance(layers[0], dict):
            named = list(layers[0].items())
        else:
            named = [(str(index), layer) for index, layer in enumerate(layers)]
        first = named[0][1] if named and isinstance(named[0][1], Module) else None
        super().__init__(backend if backend is not None or first is None else first.backend)
        for name, layer in named:
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {name!r} is {type(layer).__name__}, "
                                "expected a Module")
            setattr(self, name, layer)
        self.layers = [layer for _, layer in named]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out, need_input_grad: bool = True):
        """Back through the layers in reverse order.

        Without ``need_input_grad``, layers before the first one with
        parameters are skipped and that layer computes no input gradient (the
        saving PyTorch makes for an input that does not require grad).
        """
        first = 0
        if not need_input_grad:
            first = next((i for i, layer in enumerate(self.layers)
                          if any(True for _ in layer.parameters())), len(self.layers))
        grad = grad_out
        for index in range(len(self.layers) - 1, first - 1, -1):
            grad = self.layers[index].backward(grad, need_input_grad or index > first)
        return grad if need_input_grad else None
