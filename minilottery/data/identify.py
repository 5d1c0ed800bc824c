"""Which dataset a directory's files look like, from their names alone (nothing is read).

When a reader does not find its files, the usual cause is a directory that
holds another dataset (CIFAR-10 given as CIFAR-100, MNIST's files given as
SVHN); the error then says which dataset the files look like and which
``--dataset`` reads them.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte")
# (names that read it, what it is, the file names or subfolders that betray it)
_SIGNS = (
    (("mnist", "fashion-mnist", "kmnist"), "MNIST-format IDX files",
     _IDX + tuple(f"{name}.gz" for name in _IDX)),
    (("cifar10",), "CIFAR-10 python batches",
     ("data_batch_1", "test_batch", "batches.meta", "cifar-10-batches-py")),
    (("cifar10",), "CIFAR-10 binary batches",
     ("data_batch_1.bin", "test_batch.bin", "batches.meta.txt", "cifar-10-batches-bin")),
    (("cifar100", "cifar100-coarse"), "CIFAR-100 files",
     ("train", "meta", "train.bin", "fine_label_names.txt", "cifar-100-python",
      "cifar-100-binary")),
    (("svhn",), "SVHN .mat files", ("train_32x32.mat", "test_32x32.mat", "extra_32x32.mat")),
)


def _is_class_folder(path: Path) -> bool:
    """A subfolder holding at least one PNG or JPEG file (a class of an image folder)."""
    try:
        return path.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in path.iterdir())
    except OSError:
        return False


def identify(directory) -> list[tuple[tuple[str, ...], str]]:
    """[(dataset names that read it, description), ...] for what ``directory`` holds."""
    directory = Path(directory)
    try:
        entries = {path.name: path for path in directory.iterdir()}
    except OSError:
        return []
    found = [(names, what) for names, what, signs in _SIGNS
             if any(sign in entries for sign in signs)]
    if any(name.endswith(".npz") for name in entries):
        found.append((("npz",), "an .npz file"))
    # An image folder: class subfolders of images, or train/ (and test/ or val/) holding them
    candidates = [path for path in entries.values() if path.is_dir()]
    if "train" in entries and entries["train"].is_dir():
        candidates = [path for path in entries["train"].iterdir() if path.is_dir()]
    if any(_is_class_folder(path) for path in candidates[:50]):
        found.append((("folder",), "an image folder (one subfolder of images per class)"))
    return found
