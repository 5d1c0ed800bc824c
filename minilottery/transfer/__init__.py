"""Ticket transfer: train a winning ticket found on one dataset (or optimizer) on another.

Morcos et al., One ticket to win them all (arXiv 1906.02773; docs/papers.md), take the
ticket of a finished IMP run -- its mask at each round and its reset
weights (the weights of iteration k under late reset, their default; of
iteration 0 under the original reset) -- and train it on a target dataset
with the same architecture. Here, at every density of the source run, four
networks train on the target with the same data order:

- transferred: the source's mask and reset weights, output layer replaced;
- target ticket: the ticket IMP finds on the target itself (a lottery run
  with the same configuration in a subdirectory, resumable on its own);
- random ticket: a random mask with the same count per layer as the
  transferred one, from the same weights (their control);
- dense: the unpruned network trained on the target (the target run's round 0).

The output layer. The target's class i has nothing to do with the source's
class i, so the output layer (weights and bias) is always replaced by fresh
weights drawn with the run seed -- the very weights the target ticket starts
from. Its mask: ``output_mask="dense"`` (the default) keeps it unpruned, as
Morcos et al. do; ``"random"`` gives it a random mask keeping the source
output layer's count. Under the VGG-19 and ResNet-50 presets (global pruning
of the conv layers only) the two coincide: the source never prunes it.

The input: the target images are resized and their channels matched
(load_dataset's ``resize`` / ``channels``) to the source's input shape.

Optimizers: ``optimizer="adam"`` trains a ticket found with SGD with Adam (and
the other way round); the dataset may be the source's own. Switching
optimizer takes that optimizer's standard settings (OPTIMIZER_DEFAULTS, the
public reproduction's); the target ticket is then IMP with the new optimizer.
"""

from .run import TransferRun, run_transfer
from .source import (
    OPTIMIZER_DEFAULTS,
    OUTPUT_MASKS,
    RANDOM_WEIGHTS,
    TransferConfig,
    load_source,
    target_config,
)
from .tickets import output_prefix, transferred_masks, transferred_state

__all__ = [
    "OPTIMIZER_DEFAULTS", "OUTPUT_MASKS", "RANDOM_WEIGHTS",
    "TransferConfig", "TransferRun", "load_source", "output_prefix", "run_transfer",
    "target_config", "transferred_masks", "transferred_state",
]
