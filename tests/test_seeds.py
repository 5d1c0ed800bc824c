"""The named seed streams: distinct values, and derived seeds that tell them apart."""

from __future__ import annotations

import pytest

from minilottery.seeds import Stream, derived_seed


def test_every_stream_has_its_own_value():
    values = [stream.value for stream in Stream]
    assert len(values) == len(set(values)) == len(Stream.__members__)


def test_streams_rounds_and_seeds_give_different_seeds():
    seeds = {derived_seed(s, r, stream) for s in (0, 1) for r in (0, 1, 2) for stream in Stream}
    assert len(seeds) == 2 * 3 * len(Stream)


def test_the_values_runs_depend_on_are_kept():
    """Changing a value changes every stored run that drew from it."""
    assert (Stream.TRAIN, Stream.REINIT, Stream.RANDOM_MASK) == (0, 1, 2)
    assert derived_seed(0, 1, Stream.TRAIN) == derived_seed(0, 1, 0)


def test_unknown_stream_is_refused():
    with pytest.raises(ValueError):
        derived_seed(0, 0, 99)
