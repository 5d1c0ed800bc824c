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

``bars=False`` (``--no-progress``) draws no bar at all; the round lines still
go to ``log``, one plain line each, so a log file stays readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tqdm.auto import tqdm


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


class _Bar(tqdm):
    """tqdm with one more field for ``bar_format``: ``{status}`` (elapsed and left)."""

    status = ""

    @property
    def format_dict(self):
        return {**super().format_dict, "status": self.status}


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
        if bars and self.done < len(self.planned):
            self.bar = _Bar(total=len(self.planned), initial=self.done, desc=desc,
                            bar_format="{desc} {n_fmt}/{total_fmt} |{bar:20}| {status}",
                            leave=True, dynamic_ncols=True)
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

    def finished(self, count: int = 1) -> None:
        """``count`` more trainings are done."""
        for _ in range(count):
            if self.done < self.total:
                self.iterations_now += self.planned[self.done]
                self.done += 1
        self._refresh()

    def write(self, line: str) -> None:
        """A line that stays (above the bars while they are drawn)."""
        if self.log is None:
            return
        if self.bar is None:
            self.log(line)
        else:
            with tqdm.external_write_mode():  # every bar cleared, then redrawn below the line
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
