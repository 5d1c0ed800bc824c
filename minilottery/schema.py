"""A configuration's fields as typed options: the one schema of the flags and the sweep file.

OpenLTH's Hparams generate their command-line flags from their own fields;
we do the same. Each field of a configuration dataclass (``LotteryConfig``,
transfer's ``TransferConfig``, the options of the instability analysis and
of pruning at initialisation) becomes an ``Option``: its value type (int,
float or str), whether it may be None, whether it is a sequence (a tuple
field) or a mapping (``layer_rates``), whether it must be given, and the
choices and help its metadata gives (``config.option``). The command line
(cli/arguments.py) makes one flag per option and parses text with
``Option.parse``; the sweep file (sweep/spec.py) checks its TOML / JSON
values with ``Option.check``. A new field is a new flag (and, for
LotteryConfig, a new sweep field), with no other line to write.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, dataclass, fields

from .config import LotteryConfig

SCALARS = (int, float, str)


@dataclass(frozen=True)
class Option:
    """One field of LotteryConfig, seen as a user-facing option."""

    name: str
    kinds: tuple[type, ...]  # the scalar types a value (or each item) may have
    optional: bool  # None is a value ("the preset's")
    sequence: bool  # a tuple field: a list of items
    mapping: bool  # a dict field: NAME -> number
    choices: tuple | None  # the allowed strings (for a sequence: of each item)
    help: str
    group: str
    default: object
    required: bool = False  # no default: the flag must be given
    pair: bool = False  # a fixed-length tuple of ints (resize): "32x32" is read too
    metavar: str | None = None

    @property
    def type_name(self) -> str:
        """What the sweep file's error messages say was expected."""
        kinds = " or ".join(k.__name__ for k in self.kinds)
        if self.choices:
            words = f"one of {', '.join(self.choices)}"
            kinds = words if self.kinds == (str,) else kinds.replace("str", f"'{words}'")
        text = (f"a list of {kinds}" if self.sequence else
                f"a table of name = {kinds}" if self.mapping else kinds)
        return text + (", or none" if self.optional else "")

    def _item_ok(self, value) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, str):
            return str in self.kinds and (not self.choices or value in self.choices)
        if isinstance(value, int):
            return int in self.kinds or float in self.kinds
        return isinstance(value, float) and float in self.kinds

    def check(self, value, where: str) -> None:
        """ValueError naming ``where`` and the field when ``value`` is not of this option."""
        if value is None and self.optional:
            return
        if self.sequence:
            ok = isinstance(value, (list, tuple)) and all(self._item_ok(v) for v in value)
        elif self.mapping:
            ok = isinstance(value, dict) and all(
                isinstance(k, str) and self._item_ok(v) for k, v in value.items())
        else:
            ok = self._item_ok(value)
        if not ok:
            raise ValueError(f"{where}: field {self.name!r} got {value!r}, expected "
                             f"{self.type_name}")

    def parse(self, text: str, where: str):
        """A value from command-line text: 'none'; 'a,b' (or 'a+b', or '32x32' for a pair of
        ints) for a sequence; 'NAME=V,NAME=V' for a mapping; a scalar otherwise.
        Dashes in a choice are read as underscores (random-prune)."""
        text = str(text).strip()
        if text.lower() in ("none", "null"):
            if self.optional:
                return None
            if self.sequence or self.mapping:
                return {} if self.mapping else []
        if self.sequence:
            separator = "x" if (self.pair and "x" in text.lower()) else None
            parts = (text.lower().split("x") if separator else
                     text.replace("+", ",").split(","))
            value = [self._scalar(p.strip(), where) for p in parts if p.strip()]
        elif self.mapping:
            value = {}
            for part in filter(None, (p.strip() for p in text.split(","))):
                name, sep, number = part.partition("=")
                if not sep or not name:
                    raise ValueError(f"{where}: field {self.name!r} got {text!r}, expected "
                                     "NAME=VALUE pairs separated by commas")
                value[name.strip()] = self._scalar(number.strip(), where)
        else:
            value = self._scalar(text, where)
        self.check(value, where)
        return value

    def _scalar(self, text: str, where: str):
        for kind in (int, float):
            if kind in self.kinds:
                try:
                    return kind(text)
                except ValueError:
                    pass
        if str in self.kinds:
            # Dashes read as underscores (random-prune), unless the choice has a dash itself
            if self.choices and text not in self.choices:
                return text.replace("-", "_")
            return text
        raise ValueError(f"{where}: field {self.name!r} got {text!r}, expected "
                         f"{self.type_name}")


def _option(owner: type, f, hint) -> Option:
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    optional = type(None) in args
    args = [a for a in args if a is not type(None)]
    origin = typing.get_origin(args[0]) if len(args) == 1 else None
    sequence, mapping = origin is tuple, origin is dict
    pair = sequence and Ellipsis not in typing.get_args(args[0])
    if sequence:
        kinds = tuple(a for a in typing.get_args(args[0]) if a is not Ellipsis)
    elif mapping:
        kinds = typing.get_args(args[0])[1:]
    else:
        kinds = tuple(args)
    if not set(kinds) <= set(SCALARS):
        raise TypeError(f"{owner.__name__}.{f.name}: type {hint} is not in the schema's "
                        "vocabulary (int, float, str, their tuples, dict[str, float], None)")
    default = f.default_factory() if f.default_factory is not MISSING else f.default
    return Option(f.name, tuple(dict.fromkeys(kinds)), optional, sequence, mapping,
                  f.metadata.get("choices"), f.metadata.get("help", ""),
                  f.metadata.get("group", ""), None if default is MISSING else default,
                  required=default is MISSING, pair=pair, metavar=f.metadata.get("metavar"))


def options_of(cls: type) -> dict[str, Option]:
    """The options of the configuration dataclass ``cls``, one per field, in order."""
    hints = typing.get_type_hints(cls)
    return {f.name: _option(cls, f, hints[f.name]) for f in fields(cls)}


OPTIONS: dict[str, Option] = options_of(LotteryConfig)
