"""Run directories: results.json, per-round checkpoints, atomic writes, resume.

A run directory holds

    results.json              {"config": ..., "meta": ..., "rounds": [...], "controls": {...},
                               "checkpoints": {name: {"bytes": ..., "sha256": ...}}}
    checkpoints/<name>.npz    masks and weights (groups "masks/", "weights/", ...)
    *.png                     the plots

Every file is written to a temporary file in the same directory and renamed
over the old one, so an interrupted run never leaves a half-written file: the
last complete results and checkpoints survive, and the same command resumes
from them. A directory made with another configuration is refused, never
overwritten.

A checkpoint's size and sha256 are recorded in results.json as it is written
and checked before it is read (integrity.py); a file that is missing,
truncated, damaged or not ours raises ``DamagedFileError``: one line naming
the file, what is wrong and what to do. Checkpoints are read with
``allow_pickle=False``, always.
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

from .integrity import DamagedFileError, file_record, load_npz, record_problem

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


def config_differences(stored: Mapping, given: Mapping, ignore=(),
                       derived: Mapping[str, str] | None = None) -> list[str]:
    """Items "key: stored X, given Y" for every key whose values differ: the options given
    first, then those ``derived`` names (key -> what it is derived from), labelled so."""
    stored, given = _to_json(dict(stored)), _to_json(dict(given))
    derived = derived or {}
    lines = []
    for key in sorted(set(stored) | set(given), key=lambda k: (k in derived, k)):
        if key in ignore:
            continue
        if stored.get(key, "<missing>") != given.get(key, "<missing>"):
            label = f"{key} (derived from {derived[key]})" if key in derived else key
            lines.append(f"{label}: stored {stored.get(key, '<missing>')!r}, "
                         f"given {given.get(key, '<missing>')!r}")
    return lines


class RunDirectory:
    """One run's directory: results, checkpoints and plots, written atomically.

    ``checksums`` (name -> ``file_record``) are the checkpoints' records: read with
    the results, extended by every ``save_checkpoint``, written by ``save_results``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.checksums: dict[str, dict] = {}

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS

    def checkpoint_path(self, name: str) -> Path:
        return self.path / "checkpoints" / f"{name}.npz"

    def has_results(self) -> bool:
        return self.results_path.is_file()

    def start_again(self) -> str:
        """The advice for a file this run cannot go on without."""
        return (f"nothing was changed: restore it from a copy, or start again in a new "
                f"directory (another --out, or move {self.path} away)")

    def load_results(self) -> dict:
        """The stored results (without the checkpoints' records, kept in ``checksums``);
        FileNotFoundError if there are none, DamagedFileError if the file is not ours."""
        if not self.has_results():
            raise FileNotFoundError(f"run directory {self.path}: no {RESULTS} found")
        path = self.results_path
        try:
            text = path.read_bytes().decode("utf-8")
            results = json.loads(text)
        except UnicodeDecodeError:
            raise DamagedFileError(path, "damaged: it is not text", self.start_again()) from None
        except json.JSONDecodeError as error:
            where = f"line {error.lineno} column {error.colno}"
            problem = ("empty (0 bytes)" if not text.strip() else
                       f"truncated: its JSON stops at {where}, unfinished"
                       # the parser met the end of the text (a string open at the end too)
                       if error.pos >= len(text.rstrip()) - 1
                       or error.msg.startswith("Unterminated string") else
                       f"damaged: not valid JSON ({error.msg.removesuffix(' at')} at {where})")
            raise DamagedFileError(path, problem, self.start_again()) from None
        if not isinstance(results, dict) or not isinstance(results.get("config", {}), dict):
            raise DamagedFileError(path, "not the results of a minilottery run (expected an "
                                   "object with its config)", self.start_again())
        checksums = results.pop("checkpoints", {})
        self.checksums = dict(checksums) if isinstance(checksums, dict) else {}
        return results

    def save_results(self, results: Mapping) -> Path:
        stored = {**results, "checkpoints": self.checksums} if self.checksums else results
        return atomic_write_json(self.results_path, stored)

    def open(self, config: Mapping, fresh: Mapping, ignore=(),
             derived: Mapping[str, str] | None = None) -> dict:
        """The results to continue from: the stored ones, or ``fresh`` for a new directory.

        Raises ConfigMismatchError, saying in one line what differs, when the directory
        holds a run of another configuration (keys in ``ignore`` may differ; those in
        ``derived`` were not given, and are named with what they are derived from).
        """
        if self.path.exists() and not self.path.is_dir():
            raise ConfigMismatchError(f"out: got {str(self.path)!r}, which is a file; expected "
                                      "a run directory (new, or one to resume)")
        self.remove_partial_writes()
        if not self.has_results():
            if (self.path / "checkpoints").is_dir():
                raise DamagedFileError(self.results_path, "missing, beside the checkpoints of "
                                       "a run", self.start_again())
            if self.path.exists() and any(self.path.iterdir()):
                raise ConfigMismatchError(
                    f"run directory {self.path} is not empty and holds no {RESULTS}; "
                    "choose a new directory"
                )
            self.path.mkdir(parents=True, exist_ok=True)
            return dict(fresh)
        results = self.load_results()
        if "config" not in results:
            raise DamagedFileError(self.results_path, "not the results of a minilottery run "
                                   "(it has no config)", self.start_again())
        differences = config_differences(results["config"], config, ignore, derived)
        if differences:
            raise ConfigMismatchError(
                f"run directory {self.path} holds a run of another configuration "
                f"({'; '.join(differences)}); use a new --out directory or the same options")
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
        """Write checkpoint ``name`` and record its size and sha256 (saved with the results)."""
        path = save_npz(self.checkpoint_path(name), groups)
        self.checksums[name] = file_record(path.read_bytes())
        return path

    def forget_checkpoint(self, name: str) -> None:
        """Drop the record of a checkpoint that will be written again."""
        self.checksums.pop(name, None)

    def _read_checkpoint(self, name: str) -> tuple[bytes | None, str | None]:
        """(the file's bytes, what is wrong with them or None)."""
        path = self.checkpoint_path(name)
        if not path.is_file():
            return None, "missing"
        data = path.read_bytes()
        record = self.checksums.get(name)
        return data, record_problem(data, record) if record else None

    def checkpoint_problem(self, name: str) -> str | None:
        """What is wrong with checkpoint ``name`` (missing, truncated, damaged, not a
        checkpoint), or None when it is intact."""
        data, problem = self._read_checkpoint(name)
        if problem is None and name not in self.checksums:  # a run older than the records
            try:
                load_npz(self.checkpoint_path(name), data)
            except ValueError as error:
                problem = f"not a checkpoint: {error}"
        return problem

    def load_checkpoint(self, name: str, advice: str | None = None
                        ) -> dict[str, dict[str, np.ndarray]]:
        """Checkpoint ``name``'s groups, checked against its record first; DamagedFileError
        (naming the file, what is wrong and ``advice``) when it is not intact."""
        path = self.checkpoint_path(name)
        data, problem = self._read_checkpoint(name)
        if problem is None:
            try:
                return load_npz(path, data)
            except ValueError as error:
                problem = f"not a checkpoint: {error}"
        raise DamagedFileError(path, problem, advice or self.start_again())
