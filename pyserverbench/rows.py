"""Table rows for one scenario: the runs of a configuration become one row with their
median and spread; a failed run is its own row and shows no numbers."""

from __future__ import annotations

import statistics
from collections import defaultdict

from pyserverbench.scenario import BOUNDED_FRACTION, ceiling_facts

NOISE = 0.10  # (max - min) / median of requests handled above this is marked noisy
BUSY_CORE = 0.5  # k6 or the fake DB above this share of a core may have been the limit
COLUMNS = ("Mode", "Server", "App", "Runs", "Req Handled", "Spread", "Req Duration (p95)",
           "Req Blocked (p95)", "Server CPU s", "Req/CPU-s", "Peak MB", "Of Ceiling", "Notes")
ALIGN = ("left", "left", "left", "right", "right", "right", "right", "right", "right",
         "right", "right", "right", "left")
NONE = "—"


def fmt_ms(value: float) -> str:
    """Milliseconds as the study shows them: µs below 1 ms, else ms."""
    if value < 1:
        return f"{value * 1000:.2f} µs"
    return f"{value:.2f} ms"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _server(record: dict) -> str:
    threads = record.get("threads")
    if threads:
        return f"{record['server']} ({threads} thread{'s' if threads != 1 else ''})"
    return record["server"]


def _head(record: dict, runs: int) -> list[str]:
    return [record["mode"], _server(record), record["app"], str(runs)]


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _spread(handled: list[int]) -> tuple[str, float]:
    if len(handled) == 1:
        return "one run", 0.0
    middle = _median(handled)
    spread = (max(handled) - min(handled)) / middle if middle else 0.0
    return f"{min(handled):,}–{max(handled):,} ({spread:.0%})", spread


def _usage_cells(runs: list[dict]) -> list[str]:
    usages = [r.get("usage") for r in runs]
    if not all(usages):
        return [NONE, NONE, NONE]
    cpu = [u["server"]["cpu_s"] for u in usages]
    per_cpu = [r["metrics"]["requests"] / u["server"]["cpu_s"]
               for r, u in zip(runs, usages, strict=True) if u["server"]["cpu_s"] > 0]
    peak = max(u["server"]["peak_rss_bytes"] for u in usages) / 2**20
    return [f"{_median(cpu):.1f}", f"{_median(per_cpu):,.0f}" if per_cpu else NONE,
            f"{peak:,.1f}"]


def _notes(runs: list[dict], spread: float, fraction: float) -> str:
    notes = []
    if fraction >= BOUNDED_FRACTION:
        notes.append("bounded by the scenario")
    if spread > NOISE:
        notes.append(f"noisy (spread {spread:.0%})")
    usages = [r["usage"] for r in runs if r.get("usage")]
    uneven = [u for u in usages if u["connections"]["uneven"]]
    if uneven:
        shares = "/".join(f"{s:.2f}" for s in uneven[0]["connections"]["shares"])
        notes.append(f"uneven worker split in {len(uneven)} of {len(runs)} runs ({shares})")
    for name, label, wall in (("k6", "k6", "wall_s"), ("fakedb", "fake DB", None)):
        busy = [u[name]["cpu_s"] / (u[name][wall] if wall else u["window_s"])
                for u in usages if (u[name][wall] if wall else u["window_s"])]
        if busy and max(busy) > BUSY_CORE:
            notes.append(f"{label} used {max(busy):.2f} of a core")
    return "; ".join(notes)


def ok_row(runs: list[dict]) -> list[str]:
    """One row for the successful runs of one configuration."""
    first = runs[0]
    handled = [r["metrics"]["requests"] for r in runs]
    spread_text, spread = _spread(handled)
    fraction = _median([
        ceiling_facts(r["metrics"]["requests"], r["vus"], r["duration_s"],
                      r["db_latency_ms"])["fraction"] for r in runs])
    return _head(first, len(runs)) + [
        f"{round(_median(handled)):,}", spread_text,
        fmt_ms(_median([r["metrics"]["duration_p95_ms"] for r in runs])),
        fmt_ms(_median([r["metrics"]["blocked_p95_ms"] for r in runs])),
        *_usage_cells(runs), f"{fraction:.0%}", _notes(runs, spread, fraction),
    ]


def failed_row(record: dict) -> list[str]:
    """A failed run: its reason, no numbers."""
    reason = str(record.get("error") or "unknown error")
    if len(reason) > 140:
        reason = reason[:137] + "..."
    return _head(record, 1) + ["**failed**"] + [""] * 7 + [_cell(f"run failed: {reason}")]


def scenario_rows(records: list[dict]) -> list[list[str]]:
    """Rows for one scenario, sorted by median requests handled; failed runs last."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        if record["ok"]:
            groups[(record["stack"], record.get("threads"))].append(record)
    ranked = sorted(groups.values(), key=lambda runs: (
        -_median([r["metrics"]["requests"] for r in runs]), runs[0]["stack"]))
    failed = sorted((r for r in records if not r["ok"]), key=lambda r: (r["stack"], r["id"]))
    return [ok_row(runs) for runs in ranked] + [failed_row(r) for r in failed]
