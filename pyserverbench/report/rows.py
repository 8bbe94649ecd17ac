"""Table rows for one scenario: the runs of a configuration become one row with their
median and spread; a failed run is its own row and shows no numbers."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict

from pyserverbench.matrix.ceiling import BOUNDED_FRACTION, ceiling_facts
from pyserverbench.matrix.workloads import from_record
from pyserverbench.report.ties import (
    Estimate,
    Ranking,
    counted,
    estimate,
    floor_of,
    ranking,
)

NOISE = 0.05  # a repeat further than this from the median is marked
BUSY_CORE = 0.5  # k6 or the fake DB above this share of a core may have been the limit
COLUMNS = ("Group", "Stack", "Req/s", "Interval (req/s)", "p95", "CPU ms/req", "Of Ceiling",
           "Notes")
ALIGN = ("right", "left", "right", "right", "right", "right", "right", "left")
DETAIL_COLUMNS = ("Stack", "Server", "App", "Worker model", "Loop", "Parser", "Runs",
                  "Requests", "Blocked (p95)", "Server CPU s", "Peak MB")
DETAIL_ALIGN = ("left", "left", "left", "left", "left", "left", "right", "right", "right",
                "right", "right")
NONE = "—"


def fmt_ms(value: float) -> str:
    """Milliseconds as the study shows them: µs below 1 ms, else ms."""
    if value < 1:
        return f"{value * 1000:.2f} µs"
    return f"{value:.2f} ms"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def threads_text(record: dict) -> str:
    """` (4 threads)`, ` (1 thread)`, or nothing for a stack without threads."""
    threads = record.get("threads")
    return f" ({threads} thread{'s' if threads != 1 else ''})" if threads else ""


def _server(record: dict) -> str:
    return record["server"] + threads_text(record)


def _probed(record: dict, key: str) -> str:
    """What the probe found the server running on (loop or parser), or a dash."""
    value = (record.get("probe") or {}).get(key)
    return str(value) if value is not None else NONE


def worker_model(record: dict) -> str:
    """How the stack holds requests: one per worker or thread, or many interleaved."""
    from pyserverbench.matrix.stacks import STACKS

    stack = STACKS.get(record["stack"])
    if stack is None:
        return NONE
    return ("one request per worker or thread" if stack.blocking
            else "many requests per worker")


def _head(record: dict, runs: int) -> list[str]:
    """The proof columns of a row: what served and what the server reported."""
    return [record["stack"], _server(record), record["app"], worker_model(record),
            _probed(record, "loop"), _probed(record, "parser"), str(runs)]


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _interval(found: Estimate, per: float = 1.0) -> str:
    if found.n == 1:
        return "one run"
    return f"{found.low / per:,.0f}–{found.high / per:,.0f} ({found.confidence:.0%})"


def cpu_ms_each(runs: list[dict]) -> list[float]:
    """Server CPU milliseconds per request, of each run that measured them."""
    return [1000 * r["usage"]["server"]["cpu_s"] / r["metrics"]["requests"] for r in runs
            if r.get("usage") and r["metrics"]["requests"]]


def cpu_ms(runs: list[dict]) -> str:
    """The median server CPU milliseconds per request of these runs."""
    costs = cpu_ms_each(runs)
    return f"{_median(costs):.2f}" if costs else NONE


def _usage_cells(runs: list[dict]) -> list[str]:
    usages = [r.get("usage") for r in runs]
    if not all(usages):
        return [NONE, NONE]
    cpu = [u["server"]["cpu_s"] for u in usages]
    peak = max(u["server"]["peak_rss_bytes"] for u in usages) / 2**20
    return [f"{_median(cpu):.1f}", f"{peak:,.1f}"]


def _notes(runs: list[dict], spread: float, fraction: float | None, extra: list[str]) -> str:
    notes = []
    if fraction is not None and fraction >= BOUNDED_FRACTION:
        notes.append("bounded by the scenario")
    if spread > NOISE:
        notes.append(f"repeats up to {spread:.0%} from the median")
    probes = [r["probe"] for r in runs if r.get("probe")]
    uneven = [p["spread"] for p in probes if p["spread"]["uneven"]]
    if uneven:
        shares = "/".join(f"{s:.2f}" for s in uneven[0]["shares"])
        notes.append(f"uneven split of requests over workers in {len(uneven)} of {len(runs)} "
                     f"runs ({shares})")
    if any(p.get("tcp_nodelay") is False for p in probes):
        notes.append("TCP_NODELAY off")
    usages = [r["usage"] for r in runs if r.get("usage")]
    for name, label, wall in (("k6", "k6", "wall_s"), ("fakedb", "fake DB", None)):
        busy = [u[name]["cpu_s"] / (u[name][wall] if wall else u["window_s"])
                for u in usages if (u[name][wall] if wall else u["window_s"])]
        if busy and max(busy) > BUSY_CORE:
            notes.append(f"{label} used {max(busy):.2f} of a core")
    if any((r.get("project") or {}).get("dirty") for r in runs):
        notes.append("from a dirty work tree")
    capped = [r["client"] for r in runs if (r.get("client") or {}).get("bound")]
    if capped and fraction is None:  # where a ceiling is known, it says more
        busy = max(c["server_busy"] for c in capped)
        slots = f" and at most {capped[0]['slots']} slots" if capped[0]["slots"] else ""
        notes.append(f"client-bound in {len(capped)} of {len(runs)}: {capped[0]['vus']} VUs"
                     f"{slots}, server CPUs at most {busy:.0%} busy (raise --vus)")
    return "; ".join(notes + extra)


def handled_estimate(runs: list[dict]) -> Estimate:
    return estimate([float(r["metrics"]["requests"]) for r in runs])


def fractions(runs: list[dict]) -> list[float | None]:
    """Each run's share of its scenario's ceiling (None for a user's app, whose ceiling
    is not known, or a scenario without one)."""
    return [None if r.get("user_app") else
            ceiling_facts(r["metrics"]["requests"], r["vus"], r["duration_s"],
                          r["db_latency_ms"], from_record(r), r["app"])["fraction"]
            for r in runs]


def _fraction(runs: list[dict]) -> float | None:
    """The median share of the scenario's ceiling reached, if every run has one."""
    found = fractions(runs)
    return None if None in found else _median(found)


def ok_row(runs: list[dict], extra: list[str] | None = None, group: str = NONE) -> list[str]:
    """One row for the successful runs of one configuration, in tie group `group`."""
    first = runs[0]
    found = handled_estimate(runs)
    fraction = _fraction(runs)
    return [group, stack_cell(first), f"{found.value / first['duration_s']:,.0f}",
            _interval(found, first["duration_s"]),
            fmt_ms(_median([r["metrics"]["duration_p95_ms"] for r in runs])), cpu_ms(runs),
            NONE if fraction is None else f"{fraction:.0%}",
            _notes(runs, found.spread, fraction, extra or [])]


def detail_row(runs: list[dict]) -> list[str]:
    """The proof of one row: what served, and the raw counts behind its rate."""
    found = handled_estimate(runs)
    return [*_head(runs[0], len(runs)), f"{round(found.value):,}",
            fmt_ms(_median([r["metrics"]["blocked_p95_ms"] for r in runs])),
            *_usage_cells(runs)]


def stack_cell(record: dict) -> str:
    """A stack as a row names it: `gthread (4 threads)`; with `--workers auto`, its count
    too: `sync (3 workers)`."""
    if record.get("workers_rule"):
        shown = threads_text(record)[2:-1]
        return (f"{record['stack']} ({record['workers']} worker"
                f"{'s' if record['workers'] != 1 else ''}{', ' + shown if shown else ''})")
    return record["stack"] + threads_text(record)


def failed_row(record: dict) -> list[str]:
    """A failed run: its reason, no numbers."""
    reason = str(record.get("error") or "unknown error")
    if len(reason) > 140:
        reason = reason[:137] + "..."
    return [NONE, stack_cell(record), "**failed**"] + [""] * 4 + [
        _cell(f"run failed: {reason}")]


def failed_detail(record: dict) -> list[str]:
    return [*_head(record, 1)] + [""] * 4


def row_key(record: dict) -> tuple:
    """Runs share a row only if they ran the same stack, threads, loop and parser, with
    the same installed package versions, from a clean or a dirty tree alike."""
    probe = record.get("probe") or {}
    packages = json.dumps(record.get("packages", {}), sort_keys=True)
    return (record["stack"], record.get("threads") or 0, str(probe.get("loop")),
            str(probe.get("parser")), packages, bool((record.get("project") or {}).get("dirty")))


def _version_notes(groups: list[list[dict]]) -> dict[int, list[str]]:
    """For rows of one stack that differ in package versions, name the differing ones."""
    notes: dict[int, list[str]] = {}
    by_stack: dict[str, list[int]] = defaultdict(list)
    for index, runs in enumerate(groups):
        by_stack[runs[0]["stack"]].append(index)
    for indexes in by_stack.values():
        if len(indexes) < 2:
            continue
        versions = [groups[i][0].get("packages", {}) for i in indexes]
        names = sorted({n for v in versions for n in v
                        if len({w.get(n) for w in versions}) > 1})
        for i, packages in zip(indexes, versions, strict=True):
            if names:
                notes[i] = ["with " + ", ".join(f"{n} {packages.get(n, 'absent')}"
                                                for n in names)]
    return notes


def run_requests(record: dict) -> float:
    return record["metrics"]["requests"]


def scenario_floor(records: list[dict]) -> float | None:
    """The noise floor of a scenario's runs, from their A/A pairs that both passed."""
    return floor_of(records, run_requests)


def scenario_ranking(records: list[dict]) -> Ranking:
    """A scenario's rows ranked: a cell per row key (named by its rank by median), and
    the failed runs. Neither the second run of an A/A pair nor a disturbed run that was
    run again counts."""
    kept, _ = counted(records)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in kept:
        if record["ok"]:
            groups[row_key(record)].append(record)
    ordered = sorted(groups.values(), key=lambda runs: (
        -_median([r["metrics"]["requests"] for r in runs]), row_key(runs[0])))
    named = {str(i): runs for i, runs in enumerate(ordered)}
    found = {name: handled_estimate(runs) for name, runs in named.items()}
    failed = sorted((r for r in kept if not r["ok"]), key=lambda r: (r["stack"], r["id"]))
    return ranking(named, found, failed, scenario_floor(records))


def scenario_tables(records: list[dict]) -> tuple[list[list[str]], list[list[str]]]:
    """The main rows and the detail rows of one scenario, in the same order: by tie
    group, then by median requests handled; failed runs last."""
    ranked = scenario_ranking(records)
    extra = _version_notes(list(ranked.runs.values()))
    order = ranked.order(NONE)
    main = [ok_row(ranked.runs[name], extra.get(int(name)), group) for name, group in order]
    details = [detail_row(ranked.runs[name]) for name, _ in order]
    return (main + [failed_row(r) for r in ranked.failed],
            details + [failed_detail(r) for r in ranked.failed])
