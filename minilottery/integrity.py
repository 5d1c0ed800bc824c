"""Stored files checked before they are trusted: a checkpoint's record, and what is wrong.

A run relies on its checkpoints (checkpoints/<name>.npz) long after it wrote
them: a disk, a copy or a user may damage one in between. ``file_record`` is
what results.json keeps of each as it is written (its size and sha256);
``record_problem`` says what is wrong with the bytes found later (truncated,
damaged, replaced by another file); ``load_npz`` reads the groups of a
checkpoint with ``allow_pickle=False``, saying what a file that is not one
is instead. ``DamagedFileError`` carries the one line a user gets: the file,
what is wrong with it, what to do.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np


class DamagedFileError(ValueError):
    """A stored file of a run is missing, truncated, damaged or not one this library wrote."""

    def __init__(self, path: str | Path, problem: str, advice: str):
        self.path, self.problem, self.advice = Path(path), problem, advice
        super().__init__(f"{path}: {problem}; {advice}")



def load_npz(path: str | Path, data: bytes | None = None) -> dict[str, dict[str, np.ndarray]]:
    """The groups saved by ``save_npz`` (from ``data``, the file's bytes, when given).

    A file that is not such an .npz raises ValueError saying what it is instead.
    """
    data = Path(path).read_bytes() if data is None else data
    if not data.startswith(b"PK"):  # np.load would take any other bytes for a pickle
        raise ValueError("it is not a .npz archive (not a zip file)"
                         if data else "it is empty (0 bytes)")
    groups: dict[str, dict[str, np.ndarray]] = {}
    try:
        # allow_pickle=False: an object array would need unpickling, which a checkpoint never does
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            for key in archive.files:
                group, sep, name = key.partition("/")
                if not sep:
                    raise ValueError(f"it holds an array {key!r} outside the groups masks/ "
                                     "and weights/ of a checkpoint")
                groups.setdefault(group, {})[name] = archive[key]
    except ValueError as error:
        if "pickle" in str(error):
            raise ValueError("it holds pickled Python objects, which no checkpoint of "
                             "minilottery does") from None
        raise ValueError(str(error)) from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"it is not a readable .npz archive ({error})") from None
    return groups


def file_record(data: bytes) -> dict:
    """What results.json records of a file it relies on: its size and sha256."""
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def record_problem(data: bytes, record: Mapping) -> str | None:
    """What is wrong with a checkpoint's bytes ``data`` against its ``record`` (``file_record``):
    None when they match; else truncated, damaged, or replaced by another file."""
    if len(data) == record["bytes"] and file_record(data)["sha256"] == record["sha256"]:
        return None
    try:
        load_npz("", data)
        whole = True
    except ValueError:
        whole = False
    if whole and len(data) != record["bytes"]:
        return ("replaced by another file: its size and sha256 differ from those results.json "
                "recorded when it was written")
    if len(data) < record["bytes"]:
        return f"truncated: {len(data):,} of the {record['bytes']:,} bytes written"
    return ("damaged: its sha256 differs from the one results.json recorded when it was "
            "written")
