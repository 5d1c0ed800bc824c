"""The command line: ``minilottery train | lottery | plot ...`` (also ``python -m minilottery``).

One module per command, each a thin layer that parses flags and calls the
library: ``register`` adds its parser, ``run`` does the work (importing the
library only then, so ``minilottery --help`` stays quick). Nothing in the
library imports this package. Every error of ours is one line on stderr,
``minilottery CMD: error: ...``, with exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys

from .. import __version__
from .. import threads as blas_threads
from . import (
    early_bird,
    fetch,
    lottery,
    mask_dynamics,
    plot,
    prune_at_init,
    sanity,
    sparse_train,
    stability,
    supermask,
    sweep,
    train,
    transfer,
)
from .arguments import ArgumentParser

COMMANDS = (train, lottery, stability, prune_at_init, supermask, transfer, sparse_train, sweep,
            plot, fetch, mask_dynamics, early_bird, sanity)
# The errors a user's input causes: reported in one line, never as a traceback
USER_ERRORS = (ValueError, KeyError, FileNotFoundError, NotADirectoryError, ImportError,
               FloatingPointError)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="minilottery",
                            description="Lottery-ticket experiments in NumPy / CuPy.")
    parser.add_argument("--version", action="version", version=f"minilottery {__version__}")
    commands = parser.add_subparsers(dest="command", required=True,
                                     parser_class=ArgumentParser)
    for command in COMMANDS:
        command.register(commands)
    return parser


def _user_errors() -> tuple[type, ...]:
    from ..backends.cupy_backend import BackendUnavailableError

    return (*USER_ERRORS, BackendUnavailableError)


def _write_error() -> type:
    from ..runs import WriteError

    return WriteError


def _as_flag(text: str, parser, command: str) -> str:
    """``text`` with a leading field name ("seeds: got 0") written as the command's flag
    ("--seeds: got 0") when the command has that flag: the options' fields are its flags
    (schema.py), so the library names the field and the command line the flag."""
    match = re.match(r"([a-z][a-z_]*): ", text)
    if not match:
        return text
    flag = "--" + match[1].replace("_", "-")
    sub = next((a.choices[command] for a in parser._actions
                if isinstance(a, argparse._SubParsersAction)), None)
    if sub is None or flag not in sub._option_string_actions:
        return text
    return flag + text[len(match[1]):]


def main(argv=None) -> int:
    """Run one command; its exit status (2 for every error of the user's input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or argparse's one-line error
        return done.code
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        print(f"minilottery {args.command}: error: --threads: got {threads}, expected >= 1",
              file=sys.stderr)
        return 2
    try:
        blas_threads.configure(threads)
        with blas_threads.limit():
            return args.func(args)
    except _user_errors() as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        # One line: a multi-line message (a config mismatch) is joined
        text = "; ".join(line.strip() for line in str(message).splitlines() if line.strip())
        text = _as_flag(text, parser, args.command)
        print(f"minilottery {args.command}: error: {text}", file=sys.stderr)
        return 2
    except _write_error() as error:  # a full disk, a file-size limit: one line, no traceback
        print(f"minilottery {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"minilottery {args.command}: interrupted; run the same command again to "
              "resume", file=sys.stderr)
        return 130


__all__ = ["build_parser", "main"]
