"""Records: one JSON file per run, written atomically."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from datetime import datetime
from pathlib import Path

FORMAT = 2  # 2: the probe, the clean-room environment and a host id


def record_id(stack: str, workers: int, python: str, started: datetime) -> str:
    """A file-name-safe id that sorts by start time."""
    return f"{started:%Y%m%dT%H%M%SZ}-{stack}-w{workers}-py{python}-{secrets.token_hex(3)}"


def write_record(directory: Path, record: dict) -> Path:
    """Write `record` as `<id>.json` in directory: a temporary file, then a rename."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{record['id']}.json"
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(record, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return target
