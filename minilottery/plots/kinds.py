"""Which command wrote a run directory, and that command's own figure for ``plot DIR``.

Each command's results.json has its own shape (its "config" is the run's identity,
runner.py): the lottery and transfer keep "rounds" and "controls", early-bird a
"search", sanity a "config.method" with "records", the instability analysis a
"config.ticket", sparse-train a "config.sparse", prune-at-init "methods",
supermask a "config.random_seeds"; mask-dynamics writes mask_dynamics.json instead.
"""

from __future__ import annotations

import json
from pathlib import Path

MASK_DYNAMICS = "mask_dynamics.json"


def run_kind(results: dict) -> str:
    """The command that wrote ``results`` (a results.json's dict): "lottery" unless
    one of the other commands' keys is there."""
    config = results.get("config") or {}
    if "search" in results:
        return "early-bird"
    if "method" in config and "records" in results:
        return "sanity"
    if "ticket" in config and "records" in results:
        return "stability"
    if "sparse" in config:
        return "sparse-train"
    if "methods" in results:
        return "prune-at-init"
    if "random_seeds" in config:
        return "supermask"
    return "lottery"


def plot_any_dir(run_dir) -> list[Path]:
    """Redraw the figure of whatever run ``run_dir`` holds, in ``run_dir``; ValueError
    naming the kind of run when there is no figure to draw for it."""
    from ..runs import RunDirectory
    from .dynamics import plot_early_bird, plot_mask_dynamics, plot_sanity
    from .experiments import plot_prune_at_init, plot_stability, plot_supermask
    from .run import plot_run_dir

    path = Path(run_dir)
    directory = RunDirectory(path)
    if not directory.has_results() and (path / MASK_DYNAMICS).is_file():
        results = json.loads((path / MASK_DYNAMICS).read_text())
        return [plot_mask_dynamics(results, path / "mask_dynamics.png")]
    if not directory.has_results():
        return plot_run_dir(path)  # its own "no results.json" error
    results = directory.load_results()
    kind = run_kind(results)
    if kind == "early-bird":
        if not results.get("rounds"):
            raise ValueError(f"run_dir: {path} is an early-bird run with no round trained "
                             f"yet; rerun `minilottery early-bird --out {path}` to finish it")
        return [plot_early_bird(results, path / "early_bird.png")]
    if kind == "sanity":
        if not results.get("records"):
            raise ValueError(f"run_dir: {path} is a sanity run with no record yet; rerun "
                             f"`minilottery sanity --out {path}` to finish it")
        return [plot_sanity(results, path / "sanity.png")]
    if kind == "stability":
        return [plot_stability(results, path)]
    if kind == "prune-at-init":
        return [plot_prune_at_init(results, path)]
    if kind == "supermask":
        return [plot_supermask(results, path)]
    if kind == "sparse-train":
        raise ValueError(f"run_dir: {path} is a sparse-train run, which has no figure; "
                         f"`minilottery sparse-train --out {path}` prints its table")
    return plot_run_dir(path)
