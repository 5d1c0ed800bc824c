"""The CIFAR python batches are read by a restricted unpickler: a planted file never runs code.

The defect it fixes: a data_batch_1 whose loading calls a shell command, given
to `minilottery lottery --dataset cifar10 --data-dir DIR`, ran the command
before any check, and the user saw only a shape error.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess

import numpy as np
import pytest
from data_writers import python2_batch, write_cifar10_python, write_cifar100_python

from minilottery import cli
from minilottery.data import RefusedPickleError, load_dataset, read_cifar_batch, safe_load


class _Call:
    """Pickles as a call of ``function(*args)``: what a planted file does."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _plant(path, payload, protocol=pickle.DEFAULT_PROTOCOL):
    """A CIFAR-looking batch whose loading would call ``payload``."""
    function, args = payload
    # str keys: under protocols 0-2 a Python 3 bytes object is itself a call (_codecs.encode)
    batch = {"data": _Call(function, *args), "labels": [0, 1]}
    path.write_bytes(pickle.dumps(batch, protocol=protocol))


def _payloads(marker):
    """(function, args, the name the pickle gives it): each would create ``marker``."""
    # Protocols 0-2 spell some modules by their Python 2 names (commands, __builtin__)
    return [
        (os.system, (f"touch {marker}",), f"{os.system.__module__}\\.system"),
        (subprocess.call, (["touch", str(marker)],), "(subprocess|commands)\\.call"),
        (eval, (f"open({str(marker)!r}, 'w').close()",), "(builtins|__builtin__)\\.eval"),
        (exec, (f"open({str(marker)!r}, 'w').close()",), "(builtins|__builtin__)\\.exec"),
    ]


@pytest.mark.parametrize("which", range(4))
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_planted_batch_is_refused_and_nothing_runs(tmp_path, which, protocol):
    marker = tmp_path / "ran"
    function, args, name = _payloads(marker)[which]
    # The payload works: an ordinary pickle.load would create the marker
    control = tmp_path / "control"
    _plant(control, (function, args), protocol)
    with open(control, "rb") as handle:
        pickle.load(handle)
    assert marker.exists()
    marker.unlink()

    path = tmp_path / "data_batch_1"
    _plant(path, (function, args), protocol)
    with pytest.raises(RefusedPickleError) as error:
        read_cifar_batch(path)
    assert not marker.exists()
    message = str(error.value)
    assert "\n" not in message
    assert re.match(f"{re.escape(str(path))}: refused to unpickle {name}:", message)
    assert "nothing was run" in message


def test_the_command_line_prints_one_line_and_runs_nothing(tmp_path, capsys):
    """The defect as a new user meets it: minilottery lottery on a planted directory."""
    write_cifar10_python(tmp_path / "data")
    marker = tmp_path / "ran"
    _plant(tmp_path / "data" / "data_batch_1", (os.system, (f"touch {marker}",)))
    code = cli.main(["lottery", "--dataset", "cifar10", "--data-dir", str(tmp_path / "data"),
                     "--out", str(tmp_path / "out"), "--model", "lenet300", "--rounds", "1",
                     "--iterations", "2"])
    err = capsys.readouterr().err
    assert code == 2 and not marker.exists()
    assert err.count("\n") == 1
    assert f"data_batch_1: refused to unpickle {os.system.__module__}.system" in err


def test_objects_outside_the_array_reconstruction_are_refused(tmp_path):
    """Harmless-looking classes are refused too: only what the official files contain."""
    import collections

    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": collections.OrderedDict(), b"labels": []},
                                  protocol=4))
    with pytest.raises(RefusedPickleError, match="refused to unpickle collections.OrderedDict"):
        safe_load(path)


def test_the_official_python2_format_loads(tmp_path):
    """A batch written as Python 2's cPickle wrote the official ones (numpy.core names)."""
    data = np.random.default_rng(0).integers(0, 256, size=(7, 3072), dtype=np.uint8)
    labels = [3, 1, 4, 1, 5, 9, 2]
    path = tmp_path / "data_batch_1"
    path.write_bytes(python2_batch(data, labels))
    images, read_labels = read_cifar_batch(path)
    np.testing.assert_array_equal(images, data.reshape(-1, 3, 32, 32))
    np.testing.assert_array_equal(read_labels, labels)


def test_python3_pickles_of_numpy_arrays_load(tmp_path):
    """A batch re-pickled by NumPy 2 (numpy._core names), as the tests and users write them."""
    written = write_cifar100_python(tmp_path)
    data = load_dataset("cifar100", data_dir=tmp_path, normalize=False)
    np.testing.assert_allclose(data.x_test * 255, written["test"][0], atol=1e-4)
    assert data.class_names[:2] == ("fine0", "fine1")  # meta read by the same unpickler


@pytest.mark.parametrize("cut", [1, 100, 3000])
def test_a_truncated_pickle_names_the_file(tmp_path, cut):
    write_cifar10_python(tmp_path)
    path = tmp_path / "data_batch_2"
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(ValueError, match="data_batch_2: not a complete pickle.*truncated"):
        load_dataset("cifar10", data_dir=tmp_path)


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_batches_re_saved_by_python3_load(tmp_path, protocol):
    """Protocol 5 (Python 3.14's default) rebuilds arrays with numpy's _frombuffer."""
    data = np.random.default_rng(1).integers(0, 256, size=(3, 3072), dtype=np.uint8)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": data, b"labels": [0, 1, 2]}, protocol=protocol))
    images, labels = read_cifar_batch(path)
    np.testing.assert_array_equal(images.reshape(3, -1), data)
    np.testing.assert_array_equal(labels, [0, 1, 2])
