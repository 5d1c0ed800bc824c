"""An image folder: one subfolder per class of PNG or JPEG files (ImageNet, Places365, yours).

Two layouts, as torchvision's ImageFolder and most published sets use them:

    DIR/<class>/<image>                    all the data; the test split is drawn from it
    DIR/train/<class>/<image> and          the official test split is DIR/test
    DIR/test/<class>/<image> (or val/)     (or DIR/val, e.g. ImageNet's validation set)

Class names are the subfolder names of the training data, sorted; label i is
the i-th name. Images are decoded with Pillow (matplotlib's own image
library, so always installed with it; it reads JPEG, which matplotlib alone
cannot). Colour images become RGB, and the set is grey only if every image is
grey. Images of different sizes need ``size`` (--resize HxW): each is then
resized with transforms.resize, the same resize every other source goes
through; without it every image must have the same size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .identify import IMAGE_SUFFIXES
from .sources import Source, check_dir, missing_files, to_unit
from .transforms import resize as resize_images

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
TEST_FOLDERS = ("test", "val")


def _classes(root: Path) -> dict[str, list[Path]]:
    """{class name: its image files, sorted} for the class subfolders of ``root``."""
    classes = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        classes[folder.name] = sorted(
            f for f in folder.iterdir()
            if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
        )
    return classes


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path}: not a readable PNG or JPEG image ({error})") from None


def _decode(path: Path, grey: bool) -> np.ndarray:
    """One image as (C, H, W) uint8, C = 1 if ``grey`` else 3."""
    try:
        with _open(path) as image:
            pixels = np.asarray(image.convert("L" if grey else "RGB"), dtype=np.uint8)
    except OSError as error:
        # Pillow decodes lazily: a cut file fails here ("image file is truncated")
        raise ValueError(f"{path}: cannot decode ({error}); the file may be truncated") from None
    return pixels[None] if grey else pixels.transpose(2, 0, 1)


def _read_split(files: list[tuple[Path, int]], size, grey: bool) -> tuple[np.ndarray, np.ndarray]:
    """Decode every file into (n, C, H', W') float32 in [0, 1], resized to ``size``."""
    channels = 1 if grey else 3
    x = np.empty((len(files), channels, *size), dtype=np.float32)
    for i, (path, _) in enumerate(files):
        image = to_unit(_decode(path, grey), 255.0)
        if image.shape[1:] != tuple(size):
            image = resize_images(image[None], size)[0]
        x[i] = image
    return x, np.asarray([label for _, label in files], dtype=np.int64)


def locate_folder(data_dir) -> tuple[Path, dict[str, list[Path]], Path | None]:
    """(the training root, {class: its images}, the test root or None), checked."""
    expected = ("one subfolder per class of PNG or JPEG images, or train/ and test/ "
                "(or val/) each holding such subfolders")
    directory = check_dir(data_dir, "folder", expected)
    test_root = next((directory / t for t in TEST_FOLDERS if (directory / t).is_dir()), None)
    # train/ alone (no test/ or val/) is the data; a test split is then drawn from it
    train_root = directory / "train" if (directory / "train").is_dir() else directory
    has_splits = train_root != directory and test_root is not None
    train = _classes(train_root)
    if not any(train.values()):
        raise missing_files(directory, "folder", ["class subfolders"], expected)
    for name, files in train.items():
        if not files:
            raise ValueError(f"data_dir: class folder {train_root / name} holds no PNG or JPEG "
                             "image; expected at least one image per class (remove the empty "
                             "folder)")
    if len(train) < 2:
        raise ValueError(f"data_dir: {directory} has one class folder ({next(iter(train))}), "
                         "expected at least two classes")
    return train_root, train, test_root if has_splits else None


def read_folder(data_dir, size=None) -> Source:
    """The image folder ``data_dir`` (see the module's doc); ``size`` = (H, W) or None."""
    train_root, train, test_root = locate_folder(data_dir)
    has_splits = test_root is not None
    names = tuple(train)
    splits = {"train": [(f, names.index(c)) for c, files in train.items() for f in files]}
    if has_splits:
        test = _classes(test_root)
        unknown = sorted(set(test) - set(names))
        if unknown:
            raise ValueError(f"data_dir: {test_root} has class folders {', '.join(unknown)} "
                             f"that {train_root} lacks; expected the same classes")
        splits["test"] = [(f, names.index(c)) for c, files in test.items() for f in files]
    # Headers only (Pillow reads the size and mode without decoding): sizes and colour
    sizes, grey = {}, True
    for path, _ in (pair for files in splits.values() for pair in files):
        with _open(path) as image:
            sizes.setdefault(image.size[::-1], path)  # (H, W) -> the first file of that size
            grey = grey and image.mode in GREY_MODES
    if size is None:
        if len(sizes) > 1:
            (a, first), (b, second) = list(sizes.items())[:2]
            raise ValueError(
                f"data_dir: images of mixed sizes: {first} is {a[0]}x{a[1]}, "
                f"{second} is {b[0]}x{b[1]}; give resize=(H, W) (--resize HxW) to bring "
                "them all to one size"
            )
        size = next(iter(sizes))
    x, y = _read_split(splits["train"], size, grey)
    x_test = y_test = None
    if has_splits:
        x_test, y_test = _read_split(splits["test"], size, grey)
    return Source(x, y, x_test, y_test, len(names), names)
