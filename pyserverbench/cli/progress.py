"""Which run of how many is going, and the time left, for sessions that run several.

A session that queues others (tour, study, bench, capacity, the map, app) passes each
`--progress K/N@EPOCH`: it is the K-th of N, and the whole began at EPOCH. The time
left is the time so far scaled by the share still to do. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass

_PROGRESS = re.compile(r"^(\d+)/(\d+)@(\d+(?:\.\d+)?)$")


def clock(seconds: float) -> str:
    """`45s`, `3m05s`, `1h02m`."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@dataclass(frozen=True)
class Progress:
    """Session `index` of `total`, the whole begun at `started` (seconds since the epoch)."""

    index: int
    total: int
    started: float

    @classmethod
    def parse(cls, text: str) -> Progress:
        match = _PROGRESS.match(text)
        if match:
            index, total = int(match[1]), int(match[2])
            if 1 <= index <= total:
                return cls(index, total, float(match[3]))
        raise argparse.ArgumentTypeError(
            f"{text!r} is not K/N@EPOCH (accepted: like 3/13@1764031234, 1 <= K <= N)")

    @classmethod
    def starting(cls) -> Progress:
        """A session on its own: the first of one, begun now."""
        return cls(1, 1, time.time())

    def line(self, done: int, of: int, unit: str, now: float | None = None) -> str:
        """`session 3 of 13, run 2 of 4: 4m10s so far, about 9m left`: `done` of this
        session's `of` runs are finished."""
        now = time.time() if now is None else now
        where = f"{unit} {done + 1} of {of}"
        if self.total > 1:
            where = f"session {self.index} of {self.total}, {where}"
        finished = (self.index - 1 + done / of) / self.total
        spent = max(0.0, now - self.started)
        if finished <= 0:
            return f"{where}: the time left is estimated after the first {unit}"
        left = spent * (1 - finished) / finished
        return f"{where}: {clock(spent)} so far, about {clock(left)} left"


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", type=Progress.parse, default=None,
                        help="K/N@EPOCH: this is session K of N begun at EPOCH (the "
                             "sessions that run several pass it, for the time left)")
