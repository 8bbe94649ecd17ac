"""Secret values kept out of everything this process writes: records, errors, log
excerpts, the terminal. The user's app names them (`--env` values of secret names, URL
passwords); each is then replaced by MASK wherever it appears.

Standard library only: records.py, which every stack's environment imports, uses it."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO, TypeVar

MASK = "***"
MIN_LENGTH = 4  # shorter values are masked in the env, not hunted in text (`1` is no secret)

_values: list[str] = []
T = TypeVar("T")


def keep_secret(values: Iterable[str]) -> None:
    """From now on, replace each of these values (of MIN_LENGTH or more) wherever
    this process writes it."""
    _values.extend(value for value in values if len(value) >= MIN_LENGTH)
    _values.sort(key=len, reverse=True)  # a longer secret holding a shorter goes first


def forget_secrets() -> None:
    _values.clear()


def scrub(data: T) -> T:
    """data with every kept secret replaced by MASK, in its strings, keys and items."""
    if not _values:
        return data
    if isinstance(data, str):
        for value in _values:
            data = data.replace(value, MASK)  # type: ignore[assignment]
        return data
    if isinstance(data, dict):
        return {scrub(key): scrub(item) for key, item in data.items()}  # type: ignore[return-value]
    if isinstance(data, (list, tuple)):
        return type(data)(scrub(item) for item in data)  # type: ignore[return-value]
    return data


class Scrubbed:
    """A text stream that scrubs what is written to it (one line at a time, so a secret
    split across two writes of one line is still found)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        head, newline, self.pending = self.pending.rpartition("\n")
        if newline:
            self.stream.write(scrub(head + newline))
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.stream.write(scrub(self.pending))
            self.pending = ""
        self.stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


def scrub_terminal() -> None:
    """Scrub this process's stdout and stderr from now on."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, Scrubbed):
            setattr(sys, name, Scrubbed(stream))
