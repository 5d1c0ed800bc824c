"""The user's own data: arrays passed from Python, or an .npz file of them.

Both become a Source like every file reader's, so they go through the same
split, resize, channel matching and normalisation (datasets.py) and can meet
any other dataset in a transfer. An .npz file is read with
``allow_pickle=False``: an object array in it is refused, never unpickled.

Images may come as (n, H, W) (grey), (n, C, H, W) (PyTorch's NCHW) or
(n, H, W, C) (TensorFlow's and Keras's NHWC); with ``layout=None`` the channel
axis is the one of size 1 or 3, and ``layout`` is needed only when both are.
uint8 pixels are scaled from 0..255 to [0, 1]; float pixels are kept as they are
(normalisation later centres and scales them anyway).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .sources import Source, check_labels, check_pair, missing_files, to_unit

LAYOUTS = ("NCHW", "NHWC")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _images(x, where: str, layout: str | None) -> np.ndarray:
    """x as (n, C, H, W) float32 in the units described in the module's doc."""
    x = np.asarray(x)
    if x.dtype.kind not in "uif" or x.dtype == np.bool_:
        raise ValueError(f"{where}: dtype {x.dtype}, expected uint8 pixels (0..255) or floats")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if layout is None:
            first, last = x.shape[1] in (1, 3), x.shape[3] in (1, 3)
            if first == last:
                raise ValueError(
                    f"{where}: shape {x.shape} is ambiguous, expected (n, C, H, W) or "
                    "(n, H, W, C) with C in (1, 3) on exactly one of the two axes; "
                    "give layout='NCHW' or 'NHWC'"
                )
            layout = "NCHW" if first else "NHWC"
        if layout == "NHWC":
            x = x.transpose(0, 3, 1, 2)
    else:
        raise ValueError(
            f"{where}: shape {x.shape}, expected images (n, H, W), (n, C, H, W) or "
            "(n, H, W, C) (flat features can be given as (n, 1, 1, d))"
        )
    if x.dtype.kind in "ui":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ValueError(f"{where}: integer pixels span {x.min()}..{x.max()}, "
                             "expected 0..255 (or give floats)")
        return to_unit(x, 255.0)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"{where}: holds NaN or infinite values, expected finite pixels")
    return x


def _labels(y, where: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]  # (n, 1), as Keras's CIFAR labels come
    if y.ndim != 1 or y.dtype.kind not in "ui":
        raise ValueError(f"{where}: shape {y.shape} and dtype {y.dtype}, "
                         "expected (n,) integer class indices")
    if y.size and y.min() < 0:
        raise ValueError(f"{where}: labels span {y.min()}..{y.max()}, expected >= 0")
    return y.astype(np.int64)


def source_from_arrays(x_train, y_train, x_test=None, y_test=None, *, num_classes=None,
                       class_names=None, layout: str | None = None,
                       where: str = "") -> Source:
    """A Source from host arrays, checked; ``where`` prefixes each argument in the errors."""
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"layout: got {layout!r}, expected None, 'NCHW' or 'NHWC'")
    if (x_test is None) != (y_test is None):
        raise ValueError(f"{where}x_test / y_test: got only one of them, expected both or neither")
    x = _images(x_train, f"{where}x_train", layout)
    y = _labels(y_train, f"{where}y_train")
    check_pair(f"{where}y_train", x, y)
    if len(x) == 0:
        raise ValueError(f"{where}x_train: no images, expected at least one")
    if x_test is not None:
        x_test = _images(x_test, f"{where}x_test", layout)
        y_test = _labels(y_test, f"{where}y_test")
        check_pair(f"{where}y_test", x_test, y_test)
        if x_test.shape[1:] != x.shape[1:]:
            raise ValueError(f"{where}x_test: images are {x_test.shape[1:]} (C, H, W), "
                             f"expected the training images' {x.shape[1:]}")
    if class_names is not None:
        class_names = tuple(str(name) for name in class_names)
        if num_classes is not None and len(class_names) != num_classes:
            raise ValueError(f"class_names: got {len(class_names)} names, "
                             f"expected num_classes = {num_classes}")
        num_classes = len(class_names)
    seen = int(max(y.max(), y_test.max(initial=0) if y_test is not None else 0)) + 1
    if num_classes is None:
        num_classes = seen
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 2:
        raise ValueError(f"num_classes: got {num_classes!r}, expected an int >= 2")
    check_labels(f"{where}y_train", y, int(num_classes))
    if y_test is not None:
        check_labels(f"{where}y_test", y_test, int(num_classes))
    return Source(x, y, x_test, y_test, int(num_classes), class_names)


def npz_path(data_dir) -> Path:
    """The .npz file ``data_dir`` names, or the only one in the directory it names."""
    expected = "an .npz file with x_train and y_train (and optionally x_test and y_test)"
    if data_dir is None:
        raise FileNotFoundError(f'dataset "npz" reads data_dir, which was not given '
                                f"(expected {expected}, or a directory holding exactly one)")
    path = Path(data_dir).expanduser()
    if path.is_dir():
        found = sorted(path.glob("*.npz"))
        if not found:
            raise missing_files(path, "npz", ["an .npz file"], expected)
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise FileNotFoundError(f"data_dir: {path} holds {len(found)} .npz files ({names}), "
                                    f"expected exactly one: name the file instead")
        path = found[0]
    if not path.is_file():
        raise FileNotFoundError(f"data_dir: {path} does not exist, expected {expected}")
    return path


def read_npz(data_dir) -> Source:
    """The arrays of an .npz file (keys x_train, y_train[, x_test, y_test][, class_names])."""
    path = npz_path(data_dir)
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS[:2] if key not in archive.files]
            if missing:
                raise ValueError(f"{path}: lacks {', '.join(missing)}; holds "
                                 f"{', '.join(archive.files) or 'nothing'}; expected "
                                 "x_train and y_train (and optionally x_test and y_test)")
            arrays = {key: archive[key] for key in (*NPZ_KEYS, "class_names")
                      if key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error}); "
                         "the file may be truncated") from None
    except ValueError as error:
        if str(error).startswith(str(path)):
            raise
        # np.load refuses object arrays (they would need unpickling)
        raise ValueError(f"{path}: {error}; expected numeric arrays "
                         "(saved from NumPy arrays, not Python objects)") from None
    names = arrays.pop("class_names", None)
    return source_from_arrays(**arrays, class_names=None if names is None else names.tolist(),
                              where=f"{path}: ")
