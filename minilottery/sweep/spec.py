"""The sweep file: a grid (or a list) of lottery configurations, and their run names.

The figures of Frankle & Carbin (arXiv 1803.03635) and Morcos et al.
(arXiv 1906.02773) are averages over five or more trials with their spread.
A sweep describes those trials in one small TOML file (or the same structure
as JSON); execute.py runs them. Its fields and their types are LotteryConfig's
own, through schema.py: the same schema as the command line's flags.

    [base]                      # LotteryConfig fields shared by every run
    model = "lenet300"
    rounds = 4

    [grid]                      # field -> values: every combination is one run
    seed = [0, 1, 2]
    reset = ["init", "reinit"]

    [[runs]]                    # optional: explicit configurations, each crossed
    dataset = "mnist5k"         # with the grid

On the command line, ``--set FIELD=VALUE`` adds to [base] and
``--grid FIELD=V1,V2`` to [grid]. A run's directory is named by the fields
that vary across the sweep, sorted, seed last (``reset=init,seed=1``), so
the same sweep always gives the same names. Every field and value is
checked before anything runs, with an error naming the table and the field;
values that depend on the data (a batch larger than the training set) fail
at run time, in their own run.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import LotteryConfig
from ..schema import OPTIONS

# -- the sweep file -----------------------------------------------------------------------

def _default(name: str):
    return OPTIONS[name].default


def check_field(name: str, value, where: str) -> None:
    """ValueError naming ``where`` and the field when ``name`` or ``value`` cannot be used
    (the names, types and choices are LotteryConfig's, schema.py)."""
    if name not in OPTIONS:
        close = difflib.get_close_matches(name, OPTIONS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{where}: unknown field {name!r}{hint}; LotteryConfig fields are "
                         f"{', '.join(OPTIONS)}")
    OPTIONS[name].check(value, where)


def _table(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: got {value!r:.60}, expected a table of field = value")
    for name, item in value.items():
        check_field(name, item, where)
    return dict(value)


@dataclass
class SweepRun:
    """One run of a sweep: its directory name, configuration and the fields that vary."""

    name: str
    config: LotteryConfig
    varied: dict = field(default_factory=dict)


@dataclass
class SweepSpec:
    """``base`` fields for every run, a ``grid`` of field -> values, explicit ``runs``."""

    base: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    runs: list = field(default_factory=list)

    @classmethod
    def from_dict(cls, data, source: str = "sweep") -> SweepSpec:
        """Check every table and field, with errors that name them."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected tables [base], [grid] and [[runs]]")
        unknown = sorted(set(data) - {"base", "grid", "runs"})
        if unknown:
            raise ValueError(f"{source}: unknown tables {unknown}, expected [base], [grid] "
                             "and [[runs]]")
        base = _table(data.get("base", {}), f"{source} [base]")
        grid = data.get("grid", {})
        if not isinstance(grid, dict):
            raise ValueError(f"{source} [grid]: got {grid!r:.60}, expected field = [values]")
        for name, values in grid.items():
            where = f"{source} [grid] {name}"
            if not isinstance(values, list) or not values:
                raise ValueError(f"{where}: got {values!r}, expected a non-empty list of values")
            for value in values:
                check_field(name, value, f"{source} [grid]")
        runs = data.get("runs", [])
        if not isinstance(runs, list):
            raise ValueError(f"{source} [[runs]]: got {runs!r:.60}, expected a list of tables")
        runs = [_table(entry, f"{source} [[runs]] #{i + 1}") for i, entry in enumerate(runs)]
        for i, entry in enumerate(runs):
            both = sorted(set(entry) & set(grid))
            if both:
                raise ValueError(f"{source} [[runs]] #{i + 1}: fields {both} are also in "
                                 "[grid]; give each field in one place")
        return cls(base, dict(grid), runs)

    def to_dict(self) -> dict:
        return {"base": self.base, "grid": self.grid, "runs": self.runs}

    def expand(self) -> list[SweepRun]:
        """Every run: each [[runs]] entry (or just [base]) crossed with the grid."""
        keys = list(self.grid)
        combos = []
        for entry in self.runs or [{}]:
            for values in itertools.product(*(self.grid[k] for k in keys)):
                combos.append({**self.base, **entry, **dict(zip(keys, values, strict=True))})
        names = sorted({k for combo in combos for k in combo})
        varied = [k for k in names
                  if len({_key(c.get(k, _default(k))) for c in combos}) > 1]
        varied.sort(key=lambda k: (k == "seed", k))  # seed last: seeds of a group sit together
        runs, seen = [], {}
        for combo in combos:
            picked = {k: combo.get(k, _default(k)) for k in varied}
            name = run_name(picked)
            if name in seen:
                first = seen[name] + 1
                same = _key(combos[first - 1]) == _key(combo)
                raise ValueError(f"sweep: runs {first} and {len(runs) + 1} " + (
                    "have the same configuration" if same else
                    f"would share the directory name {name!r}"))
            seen[name] = len(runs)
            runs.append(SweepRun(name, LotteryConfig.from_dict(combo), picked))
        return runs


def _key(value) -> str:
    return json.dumps(value, sort_keys=True, default=list)


def _format(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return "+".join(_format(v) for v in value) or "none"
    if isinstance(value, dict):
        return "+".join(f"{k}~{_format(v)}" for k, v in sorted(value.items())) or "none"
    return str(value)


def run_name(varied: dict) -> str:
    """'reset=init,seed=1' from the varied fields; 'run' when nothing varies."""
    text = ",".join(f"{k}={_format(v)}" for k, v in varied.items()) or "run"
    return re.sub(r"[^A-Za-z0-9._=,+~-]", "_", text)


def load_sweep(path) -> SweepSpec:
    """A sweep file: TOML (or JSON when it ends in .json)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {path}: not found")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
        else:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(path.read_text())
    except ValueError as error:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise ValueError(f"sweep file {path}: not valid {kind}: {error}") from None
    return SweepSpec.from_dict(data, f"sweep file {path.name}")


def _toml(value) -> str:
    """A value of a LotteryConfig field as TOML: strings, numbers, arrays, inline tables."""
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    return repr(value)


def sweep_file_text(config: LotteryConfig, comment: str = "") -> str:
    """``config`` as a sweep file of one run ([base], every field that is set), which
    ``load_sweep`` reads back to the same configuration; ``comment`` lines go on top."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines.append("[base]")
    for name, value in config.to_dict().items():
        if value is not None:  # TOML has no null: a field not written is the default (None)
            lines.append(f"{name} = {_toml(value)}")
    return "\n".join(lines) + "\n"


# -- FIELD=VALUE on the command line ------------------------------------------------------

def split_values(text: str) -> list[str]:
    """'0,1,[2,3]' -> ['0', '1', '[2,3]']: commas inside brackets do not split."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def parse_value(name: str, text: str, where: str):
    """A command-line value for field ``name``: JSON where it parses as the field's type
    (``[2,3]``, ``{"a": 0.1}``), else the schema's text syntax (``reinit+random_prune``,
    ``none``; schema.Option.parse)."""
    check_field(name, _default(name) if name in OPTIONS else None, where)  # the field exists
    text = text.strip()
    value = _json_or_text(text)
    if text.startswith(("[", "{")) or not isinstance(value, str):
        try:
            check_field(name, value, where)
            return value
        except ValueError:
            if text.startswith(("[", "{")):
                raise
    return OPTIONS[name].parse(text, where)


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ValueError(f"{option}: got {text!r}, expected FIELD=VALUE")
    return name.strip().replace("-", "_"), value


def spec_from_options(spec: SweepSpec | None, sets=(), grids=()) -> SweepSpec:
    """``spec`` (or an empty one) with ``--set FIELD=VALUE`` and ``--grid FIELD=V1,V2``."""
    spec = spec or SweepSpec()
    base, grid = dict(spec.base), dict(spec.grid)
    for text in sets:
        name, value = parse_assignment(text, "--set")
        base[name] = parse_value(name, value, "--set")
        grid.pop(name, None)
    for text in grids:
        name, values = parse_assignment(text, "--grid")
        grid[name] = [parse_value(name, v, "--grid") for v in split_values(values)]
    return SweepSpec.from_dict({"base": base, "grid": grid, "runs": spec.runs}, "options")
