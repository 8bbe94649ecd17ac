"""What a request does: the study's mix, or one of three single-request workloads (their
options: cli/options.py). Standard library only."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

WORKLOADS = ("mix", "page", "api", "fanout")
STUDY_MIX = "/:2,/api:1"  # two GET / for each GET /api, as in the study
DEFAULT_CALLS = 3  # fake-DB calls per `/fanout` request
MAX_ROWS = 10_000  # `/page?rows=N` takes 0 to this many rows
MAX_CALLS = 50  # `/fanout?calls=K` takes 1 to this many fake-DB calls
# Apps whose `/fanout` makes its calls one after another (the others overlap them).
CALLS_IN_TURN = frozenset({"sync", "blocking-async"})


@dataclass(frozen=True)
class Workload:
    """One workload and its dial: rows for `page`, fake-DB calls for `fanout`."""

    name: str = "mix"
    page_rows: int = 0
    fanout_calls: int = DEFAULT_CALLS

    def request(self) -> str | None:
        """The one path every request of this workload asks for; None for the mix."""
        return {"mix": None, "page": f"/page?rows={self.page_rows}", "api": "/api",
                "fanout": f"/fanout?calls={self.fanout_calls}"}[self.name]

    def mix(self, mix: str = STUDY_MIX) -> str:
        """The open-loop mix (`path:weight,...`) a capacity search sends."""
        request = self.request()
        return mix if request is None else f"{request}:1"

    def facts(self) -> dict:
        """What a record keeps: the name and the dial that applies."""
        facts: dict = {"name": self.name}
        if self.name == "page":
            facts["page_rows"] = self.page_rows
        if self.name == "fanout":
            facts["fanout_calls"] = self.fanout_calls
        return facts

    def label(self) -> str:
        """How headings name it: `mix`, `page (100 rows)`, `fanout (3 calls)`."""
        if self.name == "page":
            return f"page ({self.page_rows} rows)"
        if self.name == "fanout":
            return f"fanout ({self.fanout_calls} calls)"
        return self.name


def from_record(record: dict) -> Workload:
    """The workload a record ran; records from before workloads ran the mix."""
    facts = record.get("workload") or {"name": "mix"}
    return Workload(facts["name"], facts.get("page_rows", 0),
                    facts.get("fanout_calls", DEFAULT_CALLS))


def parse_mix(text: str) -> list[tuple[str, int]]:
    """`/:2,/api:1` -> [("/", 2), ("/api", 1)]; ValueError naming what is wrong."""
    accepted = "accepted: path:weight pairs joined by commas, like /:2,/api:1"
    pairs = []
    for part in text.split(","):
        path, _, weight = part.partition(":")
        if not path.startswith("/") or not weight.isdigit() or not 1 <= int(weight) <= 100:
            raise ValueError(f"{text!r} is not a request mix ({accepted}; weights 1 to 100)")
        pairs.append((path, int(weight)))
    return pairs


def db_calls(path: str) -> int:
    """How many fake-DB calls our apps make for a request to path."""
    parts = urlsplit(path)
    if parts.path == "/api":
        return 1
    if parts.path == "/fanout":
        return int(parse_qs(parts.query).get("calls", [DEFAULT_CALLS])[0])
    return 0


def most_calls(pairs: list[tuple[str, int]]) -> int:
    """The most fake-DB calls any request of the mix makes."""
    return max(db_calls(path) for path, _ in pairs)


def db_waits(pairs: list[tuple[str, int]], app: str) -> float:
    """The mean number of DB latencies a request of this mix waits through in `app`:
    overlapping fanout calls wait one latency, calls in turn wait one each."""
    total = sum(w for _, w in pairs)
    waits = 0.0
    for path, weight in pairs:
        calls = db_calls(path)
        if calls and app not in CALLS_IN_TURN:
            calls = 1
        waits += weight * calls
    return waits / total


def workload_from(args: argparse.Namespace) -> Workload:
    """The workload parsed options ask for."""
    return Workload(args.workload, args.page_rows or 0,
                    args.fanout_calls if args.fanout_calls is not None else DEFAULT_CALLS)


def mean_calls(pairs: list[tuple[str, int]]) -> float:
    """The mean number of DB calls a request of this mix makes (each holds a connection
    for one latency, in turn or at once)."""
    total = sum(w for _, w in pairs)
    return sum(db_calls(path) * w for path, w in pairs) / total if total else 0.0
