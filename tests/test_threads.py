"""The thread default (the cores this process may use), what limit() holds, and the pool.

The bit-identity of training at any thread count is in test_parallel.py.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from minilottery import threads
from minilottery.nn import parallel


def blas_threads() -> int:
    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


@pytest.fixture(autouse=True)
def nothing_configured():
    threads.configure(None)
    yield
    threads.configure(None)


def test_the_default_is_the_cores_this_process_may_use(monkeypatch):
    assert threads.configured() is None
    assert threads.count() == threads.default_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert threads.count() == 3


def test_limit_holds_the_pool_at_the_count_and_blas_at_one():
    threads.configure(3)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with threads.limit():
            assert parallel.active_threads() == 3
            assert blas_threads() == 1
        assert blas_threads() == before  # the limits in force before are restored
    assert parallel.active_threads() == 1  # outside limit(): a plain loop


def test_the_pool_spreads_chunks_and_keeps_their_order():
    threads.configure(3)
    names = []

    def task(i):
        time.sleep(0.01)  # long enough that the workers take some of the chunks
        names.append(threading.current_thread().name)
        return i * i

    with threads.limit():
        assert parallel.run(parallel.np, 12, task) == [i * i for i in range(12)]
    assert len(set(names)) > 1
    assert parallel.run(parallel.np, 3, task) == [0, 1, 4]  # outside: in this thread


def test_an_error_in_a_chunk_reaches_the_caller():
    threads.configure(2)

    def task(i):
        if i == 5:
            raise ValueError("chunk 5")
        return i

    with threads.limit(), pytest.raises(ValueError, match="chunk 5"):
        parallel.run(parallel.np, 8, task)


def test_idle_workers_block_instead_of_spinning():
    """After a job, the pool's workers wait on a queue: they use no CPU time."""
    threads.configure(3)
    with threads.limit():
        parallel.run(parallel.np, 6, lambda i: i)
    start = time.process_time()
    time.sleep(0.3)
    assert time.process_time() - start < 0.05


def test_training_runs_under_the_limit(monkeypatch):
    """train() holds the limit: the steps inside it see the pool's count and one BLAS thread."""
    from minilottery import train as train_module
    from minilottery.data import load_dataset
    from minilottery.models import get_model
    from minilottery.optim import Adam

    seen = []
    step = Adam.step

    def spy(self):
        seen.append((parallel.active_threads(), blas_threads()))
        step(self)

    monkeypatch.setattr(Adam, "step", spy)
    threads.configure(2)
    data = load_dataset("digits")
    model = get_model("lenet300", data.input_shape, data.num_classes)
    train_module.train(model, data, Adam(model, 1e-3), iterations=3, batch_size=8,
                       eval_every=3, progress=False)
    assert seen == [(2, 1)] * 3


def test_bad_counts_are_named():
    with pytest.raises(ValueError, match="threads"):
        threads.configure(0)
