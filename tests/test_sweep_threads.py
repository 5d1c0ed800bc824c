"""A sweep worker trains on the threads the sweep gives it (``--threads N``), not on one.

A loky worker is a fresh process: nothing is configured in it, so a limit set
only around the run was undone by the training loop's own ``threads.limit()``,
which fell back to the default. The worker now configures its count itself.
"""

from __future__ import annotations

from joblib import Parallel, delayed

from minilottery.sweep import execution

TINY = {"model": "lenet300", "dataset": "digits", "width": 0.05, "iterations": 6,
        "rounds": 1}


def _run_in_a_worker(run_dir: str, threads: int):
    """In the worker: one tiny lottery run with ``threads``; the thread counts its optimizer
    steps saw (minilottery.threads.configured() at every step)."""
    from minilottery import optim
    from minilottery import threads as thread_setting
    from minilottery.sweep.execute import execute_run

    seen = set()
    for optimizer in (optim.SGD, optim.Adam):
        def spy(self, step=optimizer.step):
            seen.add(thread_setting.configured())
            step(self)
        optimizer.step = spy
    outcome = execute_run("tiny", TINY, run_dir, threads=threads)
    return outcome["status"], seen


def test_a_worker_trains_on_the_threads_of_the_sweep(tmp_path):
    with execution(jobs=2, threads=2) as threads:
        outcomes = Parallel()(delayed(_run_in_a_worker)(str(tmp_path / f"run{i}"), threads)
                              for i in range(2))
    assert threads == 2
    assert outcomes == [("done", {2}), ("done", {2})]
