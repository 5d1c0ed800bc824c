"""Run the command line in this process and capture what it prints."""

from __future__ import annotations

from minilottery import cli


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``minilottery *argv``, in this process."""
    try:
        code = cli.main(argv)
    except SystemExit as error:  # argparse exits by itself on flags it cannot parse
        code = error.code
    out, err = capsys.readouterr()
    return code, out, err
