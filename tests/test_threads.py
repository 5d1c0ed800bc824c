"""The BLAS thread default: one thread for small work, the limit in force otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from minilottery import nn, threads
from minilottery.models import get_model


def blas_threads() -> int:
    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


@pytest.fixture
def two_threads():
    """A BLAS limit of 2 threads around the test (skipped where the BLAS cannot run 2)."""
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() < 2:
            pytest.skip("this BLAS runs a single thread here")
        yield


@pytest.fixture(autouse=True)
def nothing_configured():
    threads.configure(None)
    yield
    threads.configure(None)


def test_forward_macs_counts_linear_and_conv_layers():
    lenet = get_model("lenet300", (1, 28, 28), 10)
    assert threads.forward_macs(lenet, (1, 28, 28)) == 784 * 300 + 300 * 100 + 100 * 10
    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, rng=0), nn.Flatten(),
                         nn.Linear(8 * 5 * 6, 4, rng=0))
    assert threads.forward_macs(conv, (3, 5, 6)) == 5 * 6 * 8 * 3 * 3 * 3 + 8 * 5 * 6 * 4


def test_forward_macs_changes_no_mode_and_no_statistics():
    model = get_model("vgg19", (3, 16, 16), 10, width=0.0625)
    model.train()
    model.features[1].eval()  # a mixed state must come back as it was
    before = {k: v.copy() for k, v in model.state_dict().items()}
    threads.forward_macs(model, (3, 16, 16))
    assert [m.training for m in model.modules()].count(False) == 1
    assert not model.features[1].training
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_small_work_runs_on_one_thread(two_threads):
    lenet = get_model("lenet300", (1, 28, 28), 10)
    with threads.limit(lenet, 60, (1, 28, 28)):
        assert blas_threads() == 1
    assert blas_threads() == 2


def test_large_work_keeps_the_limit_in_force(two_threads):
    conv4 = get_model("conv4", (3, 32, 32), 10)
    assert threads.automatic(conv4, 60, (3, 32, 32)) is None
    with threads.limit(conv4, 60, (3, 32, 32)):
        assert blas_threads() == 2


def test_a_configured_count_wins_over_the_rule(two_threads):
    conv4 = get_model("conv4", (3, 32, 32), 10)  # large work: the rule alone would keep 2
    threads.configure(1)
    assert threads.configured() == 1
    with threads.limit(conv4, 60, (3, 32, 32)):
        assert blas_threads() == 1
    assert blas_threads() == 2


def test_without_a_model_nothing_changes(two_threads):
    with threads.limit():
        assert blas_threads() == 2


@pytest.mark.parametrize("call, match", [
    (lambda: threads.configure(0), "threads"),
    (lambda: threads.automatic(get_model("lenet300", (1, 8, 8), 10), 0, (1, 8, 8)),
     "batch_size"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
