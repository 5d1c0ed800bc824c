"""What a long run tells its user while it works: where it is, how long is left, what it found.

A lottery run is many trainings (every round, and each control at each
density); one training's own bar (train.py, ``leave=False``) says nothing
about the whole. ``RunProgress`` adds, above it, one line over the whole run:

    trainings 13/41 [02:10 elapsed, ~04:35 left]

and prints one line per finished round (``round_line``), which stays in the
log once the bars are gone. The estimate counts iterations, not trainings: a
late-reset round trains T - k iterations, a control as many as its ticket.
It is measured on this call only, so a resumed run does not count the
trainings an earlier call did as free.

Bars are drawn only where the output is a terminal (tqdm decides, with
``disable=None``); elsewhere (a log file, a pipe) each finished training
leaves one plain line instead, with no carriage return:

    trained round 3 (51.2%): test accuracy 97.10% at early stop, 96.90% at the end, 12 s
    (training 7/41, ~04:35 left)

``bars=False`` (``--no-progress``) draws no bar and writes no training line;
the round lines still go to ``log``, one plain line each.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def clock(seconds: float) -> str:
    """75 -> '01:15', 3725 -> '1:02:05'."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def _percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def round_line(record: dict, controls: dict[str, dict] | None = None, prefix: str = "") -> str:
    """'round 3: 51.2% of weights, test accuracy 97.10% at early stop (iteration 400),
    96.90% at the end; reinit 95.20% / 95.00%' from a round record and its controls'."""
    text = (f"{prefix}round {record['round']}: {100 * record['density']:.1f}% of weights, "
            f"test accuracy {_percent(record.get('early_stop_test_accuracy'))} at early stop "
            f"(iteration {record.get('early_stop_iteration')}), "
            f"{_percent(record.get('final_test_accuracy'))} at the end")
    others = [f"{name.replace('_', ' ')} {_percent(c.get('early_stop_test_accuracy'))} / "
              f"{_percent(c.get('final_test_accuracy'))}"
              for name, c in (controls or {}).items()]
    return text + ("; " + ", ".join(others) if others else "")


def training_line(description: str, result) -> str:
    """'round 3 (51.2%): test accuracy 97.10% at early stop, 96.90% at the end, 12 s' from a
    training's description and its TrainResult."""
    return (f"{description.strip()}: test accuracy {_percent(result.early_stop_test_accuracy)} "
            f"at early stop, {_percent(result.final_test_accuracy)} at the end, "
            f"{result.seconds:.0f} s")


def _bar(**options):
    """tqdm with one more field for ``bar_format``: ``{status}`` (elapsed and left); tqdm is
    imported here, when a run starts, so that the command line starts at once."""
    from tqdm.auto import tqdm

    class Bar(tqdm):
        status = ""

        @property
        def format_dict(self):
            return {**super().format_dict, "status": self.status}

    return Bar(**options)


class RunProgress:
    """The overall line of a run of ``planned`` trainings (their iteration counts).

    ``done`` of them are already finished (a resumed run). Call ``finished()``
    after each training and ``write(line)`` for a line that must stay.
    """

    def __init__(self, planned: Sequence[int], *, done: int = 0, bars: bool = True,
                 log: Callable[[str], None] | None = print, desc: str = "trainings"):
        self.planned = [int(n) for n in planned]
        self.done = min(done, len(self.planned))
        self.log = log
        self.started = time.perf_counter()
        self.iterations_now = 0  # iterations trained by this call: the estimate's base
        self.bar = None
        self.plain = False  # a line per finished training instead of the bar
        if bars and self.done < len(self.planned):
            # disable=None: tqdm draws only where its output (stderr) is a terminal
            self.bar = _bar(total=len(self.planned), initial=self.done, desc=desc,
                            bar_format="{desc} {n_fmt}/{total_fmt} |{bar:20}| {status}",
                            leave=True, dynamic_ncols=True, disable=None)
            if self.bar.disable:
                self.bar, self.plain = None, True
            self._refresh()

    @property
    def total(self) -> int:
        return len(self.planned)

    def remaining_seconds(self) -> float | None:
        """Seconds left at this call's pace; None before its first training ends."""
        if not self.iterations_now:
            return None
        pace = (time.perf_counter() - self.started) / self.iterations_now
        return pace * sum(self.planned[self.done:])

    def status(self) -> str:
        """'02:10 elapsed, ~04:35 left' (no estimate before the first training ends)."""
        left = self.remaining_seconds()
        estimate = "estimating time left" if left is None else f"~{clock(left)} left"
        return f"{clock(time.perf_counter() - self.started)} elapsed, {estimate}"

    def _refresh(self) -> None:
        if self.bar is not None:
            self.bar.n = self.done
            self.bar.status = self.status()
            self.bar.refresh()

    def finished(self, count: int = 1, line: str | None = None) -> None:
        """``count`` more trainings are done; ``line`` (``training_line``) says what the last
        one found, written where no bar is drawn."""
        for _ in range(count):
            if self.done < self.total:
                self.iterations_now += self.planned[self.done]
                self.done += 1
        self._refresh()
        if self.plain and line is not None and self.log is not None:
            left = self.remaining_seconds()
            estimate = f", ~{clock(left)} left" if left and self.done < self.total else ""
            self.log(f"trained {line} (training {self.done}/{self.total}{estimate})")

    def write(self, line: str) -> None:
        """A line that stays (above the bars while they are drawn)."""
        if self.log is None:
            return
        if self.bar is None:
            self.log(line)
        else:
            with self.bar.external_write_mode():  # every bar cleared, then redrawn below it
                self.log(line)

    def close(self) -> None:
        if self.bar is not None:
            self._refresh()
            self.bar.close()
            self.bar = None

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
