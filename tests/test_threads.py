"""The BLAS thread default: one thread unless a count is configured."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from minilottery import threads


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


def test_by_default_the_products_run_on_one_thread(two_threads):
    assert threads.configured() is None
    with threads.limit():
        assert blas_threads() == threads.DEFAULT_THREADS == 1
    assert blas_threads() == 2  # the limit in force before is restored


def test_a_configured_count_wins(two_threads):
    threads.configure(2)
    assert threads.configured() == 2
    with threadpool_limits(limits=1, user_api="blas"), threads.limit():
        assert blas_threads() == 2


def test_training_runs_under_the_limit(two_threads, monkeypatch):
    """train() holds the limit: the products inside it see one thread."""
    from minilottery import train as train_module
    from minilottery.data import load_dataset
    from minilottery.models import get_model
    from minilottery.optim import Adam

    seen = []
    step = Adam.step

    def spy(self):
        seen.append(blas_threads())
        step(self)

    monkeypatch.setattr(Adam, "step", spy)
    data = load_dataset("digits")
    model = get_model("lenet300", data.input_shape, data.num_classes)
    train_module.train(model, data, Adam(model, 1e-3), iterations=3, batch_size=8,
                       eval_every=3, progress=False)
    assert seen == [1, 1, 1]


def test_bad_counts_are_named():
    with pytest.raises(ValueError, match="threads"):
        threads.configure(0)
