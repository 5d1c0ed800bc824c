"""Sweeps: run every configuration of a sweep file as its own lottery run, with joblib.

The papers' curves are means over trials (Frankle & Carbin, arXiv 1803.03635,
average five; Morcos et al., arXiv 1906.02773, six or more; docs/papers.md). Each trial is an
independent ``run_lottery`` call in its own run directory under the sweep's
directory (names from spec.py), so a sweep is embarrassingly parallel
and the work of running it belongs to an existing engine:

- ``jobs=N``: N local processes through joblib's loky backend. Each worker
  gets a fair share of the machine's threads (cores // N, configured in the
  worker with ``threads.configure``; joblib's ``inner_max_num_threads`` caps
  its BLAS too), so 2 workers on 2 cores do not oversubscribe them.
- ``dask="tcp://host:port"``: the runs become tasks on that Dask cluster
  through joblib's "dask" backend; ``dask="local"`` starts a LocalCluster of
  single-threaded worker processes on loopback. The run directories must be
  on a filesystem every worker can write (for checkpoints and resume); each
  worker also returns its results, which the sweep writes where missing.

Nothing here schedules, retries or moves data. A run that raises is caught
in its worker and recorded, with the error type, message and the end of its
traceback, in ``sweep.json`` (the expanded runs and their status, written
atomically by this process only); the others finish. Starting the same sweep
again skips the finished runs and lets ``run_lottery`` resume the others
from their last checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..config import LotteryConfig
from ..runs import RunDirectory, atomic_write_json, config_differences
from .spec import SweepRun, SweepSpec

SWEEP_FILE = "sweep.json"


# -- one run, in a worker -----------------------------------------------------------------

def run_is_finished(run_dir, config: LotteryConfig) -> bool:
    """True when ``run_dir`` holds every round (and control) of ``config``, made with it."""
    directory = RunDirectory(run_dir)
    if not directory.has_results():
        return False
    try:
        results = directory.load_results()
        stored = results["config"]
        given = {k: v for k, v in config.to_dict().items() if v is not None}
        # A directory of another configuration is not "finished": run_lottery says why
        if config_differences({k: stored.get(k) for k in given}, given, ignore=("rounds",)):
            return False
        rounds = config.rounds if config.rounds is not None else stored["rounds"]
        return (len(results["rounds"]) > rounds and
                all(len(results["controls"].get(c, [])) >= rounds for c in stored["controls"]))
    except (ValueError, KeyError, TypeError):
        return False


def execute_run(name: str, config: dict, run_dir: str, backend=None, threads=None,
                progress: bool = False, log: bool = False) -> dict:
    """Run (or resume) one lottery run and return its outcome; never raises an Exception.

    ``threads``: the threads of this run (``threads.configure`` in the worker, which
    the training's ``threads.limit()`` then holds; None: the worker's default).
    ``progress``: the run's own bars; ``log``: a line per finished round, named by
    the run (both only where the run executes in this process: a sequential sweep).
    """
    from .. import threads as thread_setting
    from .late_reset import run_lottery  # any rewind_iteration, "auto" included

    started = time.perf_counter()
    before = thread_setting.configured()
    try:
        # configured, not only limited around the run: a fresh worker has nothing configured,
        # and the training's own limit() would fall back to the default
        thread_setting.configure(threads or before)
        with thread_setting.limit():
            results = run_lottery(LotteryConfig.from_dict(config), run_dir, backend=backend,
                                  progress=progress,
                                  log=(lambda line: print(f"{name}: {line}", flush=True))
                                  if log else None)
        return {"name": name, "status": "done", "seconds": time.perf_counter() - started,
                "results": results}
    except Exception as error:  # recorded in sweep.json; the other runs go on
        lines = traceback.format_exc().rstrip().splitlines()
        return {"name": name, "status": "failed", "seconds": time.perf_counter() - started,
                "error": {"type": type(error).__name__, "message": str(error),
                          "traceback": lines[-12:]}}
    finally:
        thread_setting.configure(before)


# -- where the runs execute ---------------------------------------------------------------

def _check_jobs(jobs) -> None:
    if jobs is not None and (not isinstance(jobs, int) or (jobs < 1 and jobs != -1)):
        raise ValueError(f"jobs: got {jobs!r}, expected a number of workers >= 1 (or -1: "
                         "one per core)")


@contextlib.contextmanager
def execution(jobs=None, dask=None, threads=None):
    """joblib's backend for the runs; yields the BLAS threads each run may use.

    jobs: local processes (default 1), or with ``dask="local"`` the number of
    workers (default 2); with a remote scheduler, at most this many runs at
    once (default: all its worker threads). threads: BLAS threads per run
    (default: a fair share of the cores; on a remote cluster, the workers' own).
    """
    from joblib import cpu_count, parallel_config

    _check_jobs(jobs)
    if threads is not None and threads < 1:
        raise ValueError(f"threads: got {threads}, expected >= 1")
    if dask is None:
        jobs = jobs or 1
        workers = cpu_count() if jobs == -1 else jobs
        threads = threads or max(1, cpu_count() // workers)
        extra = {"inner_max_num_threads": threads} if workers > 1 else {}
        with parallel_config(backend="loky", n_jobs=jobs, **extra):
            yield threads
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError('--dask needs dask.distributed: pip install "minilottery[distributed]"'
                          ) from None
    with contextlib.ExitStack() as stack:
        if dask == "local":
            workers = 2 if jobs in (None, -1) else jobs
            threads = threads or max(1, cpu_count() // workers)
            address = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.ERROR))
            jobs = -1
        else:
            address = dask
        try:
            stack.enter_context(Client(address, timeout="20s"))
        except (OSError, TimeoutError) as error:
            raise ValueError(f"dask: cannot reach a scheduler at {dask!r} ({error}); expected "
                             "tcp://HOST:PORT of a running dask scheduler, or 'local'") from None
        stack.enter_context(parallel_config(backend="dask", n_jobs=jobs or -1))
        yield threads


# -- the sweep's manifest -----------------------------------------------------------------

class Manifest:
    """sweep.json: the sweep, every expanded run with its status, attempts and error."""

    def __init__(self, out_dir, spec: SweepSpec | None, runs: list[SweepRun]):
        self.path = Path(out_dir) / SWEEP_FILE
        previous = {}
        if self.path.is_file():
            with open(self.path) as handle:
                previous = {r["name"]: r for r in json.load(handle).get("runs", [])}
        self.data = {"spec": spec.to_dict() if spec else None, "runs": []}
        for run in runs:
            old = previous.get(run.name, {})
            self.data["runs"].append({
                "name": run.name, "directory": run.name, "varied": run.varied,
                "config": run.config.to_dict(), "status": "pending",
                "attempts": old.get("attempts", 0), "seconds": old.get("seconds"),
                "error": None})
        self.runs = {r["name"]: r for r in self.data["runs"]}

    def set(self, name: str, **values) -> None:
        self.runs[name].update(values)

    def save(self) -> None:
        atomic_write_json(self.path, self.data)


@dataclass
class SweepReport:
    """What one call of run_sweep did: names of runs done now, skipped, failed (-> error)."""

    out_dir: Path
    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [f"{len(self.done)} runs done, {len(self.skipped)} already finished (skipped), "
                 f"{len(self.failed)} failed, in {self.seconds:.1f} s; "
                 f"manifest: {self.out_dir / SWEEP_FILE}"]
        for name, error in self.failed.items():
            lines.append(f"FAILED {name}: {error['type']}: {error['message']}")
            lines += [f"    {line}" for line in error.get("traceback", [])[-4:]]
        return "\n".join(lines)


def run_sweep(spec, out_dir, *, jobs=None, dask=None, threads=None, backend=None,
              progress: bool = True) -> SweepReport:
    """Run every run of ``spec`` (a SweepSpec, or a list of SweepRun) under ``out_dir``.

    Finished runs are skipped, unfinished ones resumed; failures are recorded
    in sweep.json and in the report, never raised. See ``execution`` for
    ``jobs``, ``dask`` and ``threads``.
    """
    from joblib import Parallel, delayed

    from ..progress import RunProgress

    runs = spec.expand() if isinstance(spec, SweepSpec) else list(spec)
    _check_jobs(jobs)
    if dask is not None:
        _check_distributed()  # before anything is written: no sweep.json left behind
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out, spec if isinstance(spec, SweepSpec) else None, runs)
    report = SweepReport(out)
    started = time.perf_counter()
    todo = []
    for run in runs:
        if run_is_finished(out / run.name, run.config):
            manifest.set(run.name, status="done")
            report.skipped.append(run.name)
        else:
            todo.append(run)
    manifest.save()
    # One run at a time in this process: each run shows its own trainings and rounds
    here = dask is None and jobs in (None, 1)
    bar = RunProgress([1] * len(runs), done=len(report.skipped), bars=progress, desc="runs")
    if not todo:
        bar.write(f"nothing left to run: the {len(runs)} runs in {out} are finished")
    try:
        with execution(jobs, dask, threads) as run_threads:
            for run in todo:
                manifest.set(run.name, status="queued",
                             attempts=manifest.runs[run.name]["attempts"] + 1)
            manifest.save()
            tasks = (delayed(execute_run)(run.name, run.config.to_dict(), str(out / run.name),
                                          backend, run_threads, progress and here, here)
                     for run in todo)
            for outcome in Parallel(return_as="generator_unordered")(tasks):
                _record(manifest, report, outcome, out)
                bar.finished()
                bar.write(_outcome_line(outcome))
    except KeyboardInterrupt:
        _close_queued(manifest, "interrupted", None)
        raise
    except (ValueError, ImportError):
        _close_queued(manifest, "pending", None)
        raise
    except Exception as error:  # the executor itself broke (a worker killed, ...)
        message = {"type": type(error).__name__, "message": f"the executor stopped: {error}",
                   "traceback": traceback.format_exc().rstrip().splitlines()[-12:]}
        for name in _close_queued(manifest, "failed", message):
            report.failed[name] = message
    finally:
        bar.close()
        report.seconds = time.perf_counter() - started
        manifest.save()
    return report


def _check_distributed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ImportError('--dask needs dask.distributed: pip install "minilottery[distributed]"'
                          ) from None


def _outcome_line(outcome: dict) -> str:
    """'run seed=1 done in 95 s: round 5 at 32.8%, 97.10% at early stop' (or its error)."""
    name, seconds = outcome["name"], outcome["seconds"]
    if outcome["status"] != "done":
        error = outcome["error"]
        return f"run {name} failed after {seconds:.0f} s: {error['type']}: {error['message']}"
    last = outcome["results"]["rounds"][-1]
    return (f"run {name} done in {seconds:.0f} s: round {last['round']} at "
            f"{100 * last['density']:.1f}% of weights, test accuracy "
            f"{100 * last['early_stop_test_accuracy']:.2f}% at early stop")


def _record(manifest: Manifest, report: SweepReport, outcome: dict, out: Path) -> None:
    name = outcome["name"]
    if outcome["status"] == "done":
        directory = RunDirectory(out / name)
        if not directory.has_results():  # a remote worker without a shared filesystem
            directory.save_results(outcome["results"])
        manifest.set(name, status="done", seconds=outcome["seconds"], error=None)
        report.done.append(name)
    else:
        manifest.set(name, status="failed", seconds=outcome["seconds"], error=outcome["error"])
        report.failed[name] = outcome["error"]
    manifest.save()


def _close_queued(manifest: Manifest, status: str, error) -> list[str]:
    names = [r["name"] for r in manifest.data["runs"] if r["status"] == "queued"]
    for name in names:
        manifest.set(name, status=status, error=error)
    return names
