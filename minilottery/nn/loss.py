"""Cross-entropy on logits, with the softmax fused in for stability."""

from __future__ import annotations

from .module import Module


class CrossEntropyLoss(Module):
    """Mean over the batch of -log softmax(logits)[label].

    forward(logits (n, k), labels (n,) ints) -> the loss as a Python float;
    compute(...) returns it as a 0-d device array instead (no host round trip,
    for the training loop); backward() -> d loss / d logits, (n, k).
    """

    def compute(self, logits, labels):
        xp = self.xp
        if logits.ndim != 2 or labels.shape != (logits.shape[0],):
            raise ValueError(
                f"CrossEntropyLoss: logits {tuple(logits.shape)} and labels "
                f"{tuple(labels.shape)}, expected (n, k) and (n,)"
            )
        # log softmax = z - max z - log Σ exp(z - max z): no overflow for large logits
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        rows = xp.arange(logits.shape[0])
        self.probs = xp.exp(log_probs)
        self.labels = labels
        return -log_probs[rows, labels].mean()

    def forward(self, logits, labels) -> float:
        return float(self.compute(logits, labels))

    def __call__(self, logits, labels) -> float:
        return self.forward(logits, labels)

    def backward(self, grad_out=None, need_input_grad: bool = True):
        # d loss / d z = (softmax(z) - onehot(label)) / n
        n = self.probs.shape[0]
        grad = self.probs.copy()
        grad[self.xp.arange(n), self.labels] -= 1
        grad /= n
        return grad
