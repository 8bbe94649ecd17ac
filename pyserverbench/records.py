"""The record: one JSON file per run or search. Its format (record.schema.json beside this
file), reading with validation, the atomic write, and the named keys by which the report,
compare and the view across Pythons group records.

Standard library only at import (jsonschema is imported when a record is validated): the
noxfile and the harness inside every stack's environment import this module.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import stat
import tempfile
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pyserverbench.harness.redact import scrub
from pyserverbench.matrix.workloads import from_record, most_calls, parse_mix

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

FORMAT = 2  # 2: the probe, the clean-room environment and a host id
SCHEMA_PATH = Path(__file__).with_name("record.schema.json")


def record_id(stack: str, workers: int, python: str, started: datetime) -> str:
    """A file-name-safe id that sorts by start time."""
    return f"{started:%Y%m%dT%H%M%SZ}-{stack}-w{workers}-py{python}-{secrets.token_hex(3)}"


def is_capacity(record: dict) -> bool:
    return record.get("kind") == "capacity"


# Reading


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


# Bounds on what a record may hold, far above any record we write (the largest
# committed: 70 KB, strings of 437 characters, nesting 8 deep, numbers up to 2.6e10).
MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32
MAX_TEXT = 20_000
MAX_NUMBER = 1e15
SIGNED = ("exit_code", "returncode")  # a process killed by signal N exits with -N


def unsafe_value(data: object, path: tuple = (), depth: int = 0) -> str | None:
    """The first value that no record of ours holds, in one line, or None: nesting past
    MAX_DEPTH, a text past MAX_TEXT, a number that is NaN, infinite, past MAX_NUMBER or
    negative (exit codes aside). Every figure we render is finite and not below zero."""
    if depth > MAX_DEPTH:
        return f"{_where(path)} is nested more than {MAX_DEPTH} deep"
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    elif isinstance(data, str):
        return f"{_where(path)} is longer than {MAX_TEXT} characters" \
            if len(data) > MAX_TEXT else None
    elif isinstance(data, float) and not math.isfinite(data):
        return f"{_where(path)} is {data}, not a finite number"
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        if abs(data) > MAX_NUMBER:
            return f"{_where(path)} is {data:.3g}, past the bound of {MAX_NUMBER:.0e}"
        if data < 0 and not str(path[-1] if path else "").endswith(SIGNED):
            return f"{_where(path)} is {data}, below zero"
        return None
    else:
        return None
    for key, value in items:
        found = unsafe_value(value, (*path, key), depth + 1)
        if found:
            return found
    return None


def _where(path: tuple) -> str:
    """`field usage.server.cpu_s`, its first 6 parts, or `the record`."""
    if not path:
        return "the record"
    return "field " + ".".join(str(part) for part in path[:6]) + (".…" if len(path) > 6 else "")


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def record_problem(data: object) -> str | None:
    """Why data is not a usable record, in one line, or None: another format by name; a
    value no record holds (unsafe_value); a field of the wrong type or missing; else the
    first rule of the schema's `allOf` it breaks, by that rule's description."""
    from jsonschema.exceptions import best_match

    if not isinstance(data, dict):
        return "not a JSON object"
    if data.get("format") != FORMAT:
        return f"format {data.get('format')!r}, expected {FORMAT}"
    unsafe = unsafe_value(data)
    if unsafe:
        return unsafe
    errors = list(_validator().iter_errors(data))
    fields = [error for error in errors if error.schema_path[0] != "allOf"]
    if fields:
        return _said(best_match(fields))
    broken = sorted(error.schema_path[1] for error in errors)
    return schema()["allOf"][broken[0]]["description"] if broken else None


def _said(error: ValidationError) -> str:
    """One schema complaint in words, the value itself left out (it may be large)."""
    path = list(error.absolute_path)
    where = "field " + ".".join(str(part) for part in path) if path else "the record"
    if error.validator in ("required", "additionalProperties"):
        return f"{where}: {error.message}"
    if error.validator == "type":
        expected = error.validator_value
        shown = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{where} is {type(error.instance).__name__}, expected {shown}"
    return f"{where} does not match the record format ({error.validator} " \
           f"{json.dumps(error.validator_value)[:60]})"


def read_json(path: Path) -> object:
    """A regular file's JSON, read without waiting on a FIFO or device and refused past
    MAX_BYTES. Raises ValueError saying why it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(f"unreadable ({exc.strerror or type(exc).__name__})") from None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise ValueError("not a regular file")
        if found.st_size > MAX_BYTES:
            raise ValueError(f"{found.st_size} bytes, more than {MAX_BYTES}")
        raw = os.read(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError("unreadable (nested too deep)") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"unreadable ({type(exc).__name__})") from None


def read_records(directory: Path) -> tuple[list[dict], list[str]]:
    """Every `*.json` in directory: (usable records, one warning per skipped file)."""
    records, warnings = [], []
    for path in sorted(directory.glob("*.json")):
        try:
            data = read_json(path)
        except ValueError as exc:
            warnings.append(f"skipped {path}: {exc}")
            continue
        reason = record_problem(data)
        if reason:
            warnings.append(f"skipped {path}: {reason}")
        else:
            records.append(data)
    return records, warnings


# Writing


def write_text(path: Path, text: str) -> None:
    """Write text to path atomically: a temporary file beside it, flushed, then renamed,
    so a reader sees the old file or the whole new one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write_record(directory: Path, record: dict) -> Path:
    """Write `record` as `<id>.json` in directory, atomically, each kept secret masked
    (harness/redact)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{record['id']}.json"
    write_text(target, json.dumps(scrub(record), indent=2, sort_keys=True) + "\n")
    return target


# Keys: what must be equal for records to share a section, a row or a cell


def python_order(version: str) -> tuple[int, ...]:
    """`3.13.0t` -> (3, 13, 0): Pythons in numeric order, not text order (3.9 < 3.10)."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def placement_key(record: dict) -> str:
    """Where the processes ran, less the host's core count (the host key holds it)."""
    placement = dict(record.get("placement") or {})
    placement.pop("host_cores", None)
    return json.dumps(placement, sort_keys=True)


def k6_label(record: dict) -> str:
    """`k6 v1.1.0`, from what `k6 version` printed."""
    return " ".join(str(record.get("k6_version", "")).split()[:2]) or "k6 unknown"


def user_key(record: dict) -> str:
    """A user's app (`nox -s app`) and how it was loaded; empty for our own apps."""
    return (record.get("user_app") or {}).get("key", "")


def db_key(record: dict) -> str:
    """The database a record's apps called: empty for the fake DB (and records from
    before there was a choice), else PostgreSQL and the pools asked for."""
    db = record.get("db") or {"kind": "fake"}
    if db.get("kind", "fake") == "fake":
        return ""
    asked = db.get("pool_asked")
    return (f"PostgreSQL, {asked} connection{'s' if asked != 1 else ''} per worker" if asked
            else "PostgreSQL, each model's default pool")


MACHINE_FIELDS = [("host", str), ("kernel", str), ("placement", str), ("k6", str),
                  ("sitting", str)]


def workers_key(record: dict) -> int:
    """A section's worker count: the one given, or 0 for `--workers auto` (each stack's
    own rule, so the counts differ within the section)."""
    return 0 if record.get("workers_rule") else record["workers"]


def workers_text(record: dict) -> str:
    """`2 workers`, `1 worker`, or `workers by each stack's rule (auto)`."""
    if record.get("workers_rule"):
        return "workers by each stack's rule (auto)"
    workers = record["workers"]
    return f"{workers} worker{'s' if workers != 1 else ''}"


def sitting_id(record: dict) -> str:
    """The sitting a record is part of; empty for a run on its own."""
    return str((record.get("sitting") or {}).get("id", ""))


class Machine(NamedTuple("Machine", MACHINE_FIELDS)):
    """What must be equal for runs to share a median: the host (its stable id), the
    kernel, the placement, k6's version and the sitting (a section never pools two)."""

    __slots__ = ()

    @classmethod
    def of(cls, record: dict) -> Machine:
        host = record["host"]
        return cls(str(host.get("id") or f"{host.get('cpu_model')}/{host.get('cores')}"),
                   str(host.get("kernel")), placement_key(record), k6_label(record),
                   sitting_id(record))


class _MachineFirst(tuple):
    """A key whose first fields are its Machine's."""

    __slots__ = ()

    def machine(self) -> Machine:
        return Machine(*self[:len(MACHINE_FIELDS)])

    def setup(self) -> tuple:
        """Everything but the machine: sections alike in this differ in machine facts."""
        return tuple(self[len(MACHINE_FIELDS):])


class ClosedKey(NamedTuple("ClosedKey", [
        *MACHINE_FIELDS, ("python_order", tuple), ("python", str), ("workers", int),
        ("db_latency_ms", int), ("vus", int), ("duration_s", int), ("connections", str),
        ("workload", str), ("user_app", str), ("db", str)]), _MachineFirst):
    """A closed-loop section: the machine, then the scenario (sorted in this order)."""

    __slots__ = ()

    @classmethod
    def of(cls, record: dict) -> ClosedKey:
        return cls(*Machine.of(record), python_order(record["python"]), record["python"],
                   workers_key(record), record["db_latency_ms"], record["vus"],
                   record["duration_s"], record.get("connections", "kept"),
                   from_record(record).label(), user_key(record), db_key(record))

    def across(self, commit: str) -> tuple:
        """The key of the view across Pythons: this less the Python, plus the commit."""
        return (*self.machine(), "closed", self.workers, self.db_latency_ms, self.vus,
                self.duration_s, self.connections, self.workload, self.user_app, self.db,
                commit)


class CapacityKey(NamedTuple("CapacityKey", [
        *MACHINE_FIELDS, ("python", str), ("workers", int), ("mix", str),
        ("margin_ms", float), ("step_s", int), ("warmup_s", int), ("resolution", float),
        ("user_app", str), ("db", str)]), _MachineFirst):
    """A capacity section (latency aside): the machine, then how the search was set up.
    `margin_ms` is the goal less the DB time of the mix's slowest request."""

    __slots__ = ()

    @classmethod
    def of(cls, record: dict) -> CapacityKey:
        c = record["capacity"]
        margin = round(c["goal_ms"] - most_calls(parse_mix(c["mix"])) * record["db_latency_ms"],
                       3)
        return cls(*Machine.of(record), record["python"], workers_key(record), c["mix"],
                   margin, c["step_s"], c["warmup_s"], c["resolution"], user_key(record),
                   db_key(record))

    def order(self) -> tuple:
        """The report's order: machine, then Python by number, then the rest."""
        return (tuple(self.machine()), python_order(self.python), tuple(self.setup()))

    def calls(self) -> int:
        return most_calls(parse_mix(self.mix))

    def across(self, db_latency_ms: int, commit: str) -> tuple:
        """The key of the view across Pythons: this less the Python, one latency, the
        commit."""
        return (*self.machine(), "capacity", self.workers, self.mix, self.margin_ms,
                self.step_s, self.warmup_s, self.resolution, self.user_app, self.db,
                db_latency_ms, commit)
