"""Turn the first SIGINT or SIGTERM into an exception, except inside `held()` sections."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(BaseException):
    """The run was interrupted by a signal; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


_depth = 0
_pending: int | None = None
_raised = False


def _handler(signum: int, frame: object) -> None:
    global _pending, _raised
    if _raised:
        return  # one interruption is enough; clean-up must not be cut short
    if _depth:
        _pending = signum
        return
    _raised = True
    raise Interrupted(signum)


def install() -> None:
    """Handle SIGINT and SIGTERM in this (main) thread."""
    global _pending, _raised
    _pending, _raised = None, False
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


@contextmanager
def held() -> Iterator[None]:
    """Defer a signal that arrives inside this block until the block ends."""
    global _depth, _pending, _raised
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending is not None and not _raised:
            signum, _pending, _raised = _pending, None, True
            raise Interrupted(signum)
