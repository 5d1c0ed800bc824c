"""Run directories: results.json, per-round checkpoints, atomic writes, resume.

A run directory holds

    results.json              {"config": ..., "meta": ..., "rounds": [...], "controls": {...}}
    checkpoints/<name>.npz    masks and weights (groups "masks/", "weights/", ...)
    *.png                     the plots

Every file is written to a temporary file in the same directory and renamed
over the old one, so an interrupted run never leaves a half-written file: the
last complete results and checkpoints survive, and the same command resumes
from them. A directory made with another configuration is refused, never
overwritten.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

RESULTS = "results.json"


class ConfigMismatchError(ValueError):
    """A run directory holds a run of another configuration."""


class WriteError(OSError):
    """A file of a run could not be written (a full disk, a file-size limit, a permission
    taken away): nothing partial was left, so the same command resumes."""

    def __init__(self, path: str | Path, error: OSError):
        super().__init__(error.errno, error.strerror or str(error), str(path))
        self.path = Path(path)

    def __str__(self) -> str:
        return (f"could not write {self.path}: {self.strerror} (nothing partial was left; "
                "run the same command again to resume)")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename; WriteError (an
    OSError naming the file and the reason) when the system refuses."""
    path = Path(path)
    try:
        return _write_through_temporary(path, data)
    except WriteError:
        raise
    except OSError as error:
        raise WriteError(path, error) from error


def _write_through_temporary(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the usual permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _to_json(value):
    """Numpy scalars and arrays, tuples and non-finite floats as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist())
    if isinstance(value, np.generic):
        return _to_json(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def atomic_write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON, atomically; NaN and inf become null."""
    text = json.dumps(_to_json(obj), indent=1, allow_nan=False)
    return atomic_write_bytes(path, text.encode() + b"\n")


def save_npz(path: str | Path, groups: Mapping[str, Mapping[str, np.ndarray]]) -> Path:
    """Save named groups of arrays ({"masks": {...}, "weights": {...}}) in one .npz, atomically."""
    flat = {f"{group}/{name}": np.asarray(array)
            for group, arrays in groups.items() for name, array in arrays.items()}
    buffer = io.BytesIO()
    np.savez(buffer, **flat)
    return atomic_write_bytes(path, buffer.getvalue())


def load_npz(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """The groups saved by ``save_npz``."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            group, name = key.split("/", 1)
            groups.setdefault(group, {})[name] = data[key]
    return groups


def config_differences(stored: Mapping, given: Mapping, ignore=()) -> list[str]:
    """Lines "key: stored X, given Y" for every key whose values differ."""
    stored, given = _to_json(dict(stored)), _to_json(dict(given))
    lines = []
    for key in sorted(set(stored) | set(given)):
        if key in ignore:
            continue
        if stored.get(key, "<missing>") != given.get(key, "<missing>"):
            lines.append(f"{key}: stored {stored.get(key, '<missing>')!r}, "
                         f"given {given.get(key, '<missing>')!r}")
    return lines


class RunDirectory:
    """One run's directory: results, checkpoints and plots, written atomically."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS

    def checkpoint_path(self, name: str) -> Path:
        return self.path / "checkpoints" / f"{name}.npz"

    def has_results(self) -> bool:
        return self.results_path.is_file()

    def load_results(self) -> dict:
        """The stored results; a clear error if this is not a run directory."""
        if not self.has_results():
            raise FileNotFoundError(f"run directory {self.path}: no {RESULTS} found")
        with open(self.results_path) as handle:
            return json.load(handle)

    def save_results(self, results: Mapping) -> Path:
        return atomic_write_json(self.results_path, results)

    def open(self, config: Mapping, fresh: Mapping, ignore=()) -> dict:
        """The results to continue from: the stored ones, or ``fresh`` for a new directory.

        Raises ConfigMismatchError, saying what differs, when the directory holds
        a run of another configuration (keys in ``ignore`` may differ).
        """
        if self.path.exists() and not self.path.is_dir():
            raise ConfigMismatchError(f"out: got {str(self.path)!r}, which is a file; expected "
                                      "a run directory (new, or one to resume)")
        self.remove_partial_writes()
        if not self.has_results():
            if self.path.exists() and any(self.path.iterdir()):
                raise ConfigMismatchError(
                    f"run directory {self.path} is not empty and holds no {RESULTS}; "
                    "choose a new directory"
                )
            self.path.mkdir(parents=True, exist_ok=True)
            return dict(fresh)
        results = self.load_results()
        differences = config_differences(results.get("config", {}), config, ignore)
        if differences:
            raise ConfigMismatchError(
                f"run directory {self.path} holds a run of another configuration; "
                "use a new --out directory or the same options. Differences:\n  "
                + "\n  ".join(differences)
            )
        return results

    def remove_partial_writes(self) -> list[Path]:
        """Delete the temporary files of atomic writes that a killed process left behind.

        atomic_write_bytes cleans up after an exception, but not after SIGKILL or a power
        cut: its ".<name>.<random>.tmp" file stays. The file it was replacing is intact, so
        the temporary one is only litter; it is removed when the run is opened again.
        """
        removed = []
        for folder in (self.path, self.path / "checkpoints"):
            for stale in folder.glob(".*.tmp") if folder.is_dir() else ():
                stale.unlink()
                removed.append(stale)
        return removed

    def save_checkpoint(self, name: str, **groups: Mapping[str, np.ndarray]) -> Path:
        return save_npz(self.checkpoint_path(name), groups)

    def load_checkpoint(self, name: str) -> dict[str, dict[str, np.ndarray]]:
        path = self.checkpoint_path(name)
        if not path.is_file():
            raise FileNotFoundError(f"run directory {self.path}: checkpoint {path.name} missing")
        return load_npz(path)
