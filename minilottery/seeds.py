"""Named seed streams: every random draw of a run comes from (run seed, round, stream).

A run has one user-facing seed. Each purpose that needs randomness (the
order of the training batches, a control's fresh weights, a random mask,
the two copies of the instability analysis, ...) draws from its own stream,
so adding a purpose never shifts the numbers another one sees, and a resumed
run draws exactly what an uninterrupted one would. The values are part of
the results: changing one changes every run that uses it, so they are
written here once, and tests/test_seeds.py holds them distinct.
"""

from __future__ import annotations

from enum import IntEnum, unique

import numpy as np


@unique
class Stream(IntEnum):
    """One purpose of randomness; the value is mixed into the derived seed."""

    TRAIN = 0  # batch order and dropout masks of a round (shared by a round and its controls)
    REINIT = 1  # fresh weights of the reinit reset and control
    RANDOM_MASK = 2  # the random_prune control's mask (also the stability ticket's control)
    STABILITY_COPY_A = 10  # instability analysis: the data order of copy A
    STABILITY_COPY_B = 11  # ... and of copy B
    PRUNE_AT_INIT_BATCH = 20  # SNIP / GraSP: the batch the scores are computed on
    PRUNE_AT_INIT_RANDOM = 21  # the random-mask baseline of pruning at initialisation
    # transfer used 10-12 too, a collision with the copies above; renumbered with the
    # late-reset fix, which changes every transfer of a rewound ticket anyway
    TRANSFER_RANDOM_MASK = 30  # transfer: the random ticket's mask
    TRANSFER_OUTPUT_MASK = 31  # transfer: a random mask of the replaced output layer
    TRANSFER_FRESH = 32  # transfer: the random ticket's fresh weights
    SUPERMASK_RANDOM = 40  # supermasks: the random masks of a round (one per draw)
    SPARSE_MASK = 50  # SET / RigL: the random mask a sparse training starts from
    SPARSE_GROW = 51  # SET: the connections grown at random at an update (per iteration)
    SANITY_TRAIN = 60  # sanity checks: the data order of seed s > 0 (s = 0: the round's own)
    SANITY_SHUFFLE = 61  # ... the shuffled mask of seed s
    SANITY_REINIT = 62  # ... the fresh weights of seed s
    SANITY_RANDOM = 63  # ... the uniformly random mask of seed s


def derived_seed(seed: int, round_index: int, stream: Stream, *draw: int) -> int:
    """An independent seed for (run seed, round, stream[, draw]), stable across resumes.

    ``round_index`` is where in the run the draw happens: a round, or the iteration k
    of the instability analysis (its copies are drawn per k, not per round);
    ``draw`` numbers several draws of one stream at one place (a mean over masks).
    """
    stream = Stream(stream)
    return int(np.random.SeedSequence([seed, round_index, int(stream), *draw])
               .generate_state(1)[0])
