"""Argument types that fail in one line, naming the value and what is accepted.
Standard library only: the noxfile checks options with them before anything installs."""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable

from pyserverbench.matrix.workloads import parse_mix


def _bounded(convert: Callable[[str], float], kind: str, low: float,
             high: float) -> Callable[[str], float]:
    """An argparse type: `convert` the text, then require low <= value <= high."""
    shown = [str(v) if isinstance(v, int) else f"{v:g}" for v in (low, high)]
    accepted = f"(accepted: {shown[0]} to {shown[1]})"

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind} {accepted}")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range {accepted}")
        return value

    parse.__name__ = kind
    return parse


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type accepting whole numbers from low to high."""
    return _bounded(int, "whole number", low, high)  # type: ignore[return-value]


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    """Return an argparse type accepting finite numbers from low to high."""
    return _bounded(float, "number", low, high)


MAX_WORKERS = 64


def workers_count(text: str) -> int | str:
    """`--workers`: a whole number from 1 to MAX_WORKERS, or `auto` (the stack's rule)."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_WORKERS or not text.strip().lstrip("+").isdigit():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a worker count (accepted: auto, or 1 to {MAX_WORKERS})")
    return value


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_DURATION_S = 24 * 3600


def k6_duration(text: str) -> int:
    """Parse a k6-style duration (`15s`, `1m`, `1m30s`, `2h`) into whole seconds."""
    match = _DURATION.match(text)
    if not text or not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (accepted: like 15s, 1m, 1m30s; 1s to 24h)"
        )
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if not 1 <= total <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (accepted: 1s to 24h)")
    return total


def cpu_list(text: str) -> frozenset[int]:
    """Parse CPUs like `0`, `0,2` or `0-1`: some, not all, of those this process may use."""
    usable = sorted(os.sched_getaffinity(0))
    accepted = f"accepted: some but not all of CPUs {','.join(map(str, usable))}, like 0 or 0-1"
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            first, last = int(low), int(high or low)
            if not 0 <= first <= last <= usable[-1]:  # checked before any set is built
                raise argparse.ArgumentTypeError(f"{text!r} is not usable here ({accepted})")
            cpus.update(range(first, last + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a CPU list ({accepted})") from None
    if not cpus or not cpus <= set(usable) or cpus == set(usable):
        raise argparse.ArgumentTypeError(f"{text!r} is not usable here ({accepted})")
    return frozenset(cpus)


def latencies(text: str) -> list[int]:
    """`25` or `0,5,25,100` -> DB latencies in ms, one search each."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or any(not 0 <= v <= 10_000 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of latencies (accepted: like 25 or 0,5,25,100; "
            f"each a whole number from 0 to 10000)")
    return values


def mix(text: str) -> str:
    """A request mix, `/:2,/api:1`, checked and kept as text."""
    try:
        parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def worker_counts(text: str) -> tuple[int | str, ...]:
    """`1,2,3,5` or `2,auto`: worker counts, each once."""
    return _each_once(text, tuple(workers_count(part.strip()) for part in text.split(",")))


def thread_counts(text: str) -> tuple[int, ...]:
    """`1,4,16`: thread counts, each 1 to 256, each once."""
    try:
        counts = tuple(bounded_int(1, 256)(part.strip()) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of thread counts (accepted: like 1,4,16; each a whole "
            f"number from 1 to 256)") from None
    return _each_once(text, counts)


def _each_once(text: str, counts: tuple) -> tuple:
    """The counts of a list option, refused if one is named twice."""
    if len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError(f"{text!r} names a count twice")
    return counts
