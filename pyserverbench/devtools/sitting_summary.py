"""What a sitting's capacity searches came to, cell by cell: each stack's repeats, their
largest distance from the median, the steps and minutes a search took, the noise floor
and the tie groups per DB latency; given two result directories, their tie groups side
by side.

    python -m pyserverbench sitting-summary results/ [other-results/]
"""

from __future__ import annotations

import json
import statistics
import sys
from datetime import datetime
from pathlib import Path

from pyserverbench.report.ties import Estimate, counted, estimate, noise_floor, tie_groups

Section = tuple[str, int, float]  # sitting id, workers, DB latency


def read_records(folder: Path) -> list[dict]:
    """The capacity records of sittings under `folder` (plan files left out)."""
    found = []
    for path in sorted(folder.rglob("*.json")):
        if "sittings" in path.parts:
            continue
        record = json.loads(path.read_text())
        if record.get("kind") == "capacity" and record.get("sitting"):
            found.append(record)
    return found


def rate(record: dict) -> float | None:
    return (record.get("capacity") or {}).get("rps") if record.get("ok") else None


def sections(records: list[dict]) -> dict[Section, list[dict]]:
    keyed: dict[Section, list[dict]] = {}
    for record in records:
        key = (record["sitting"]["id"], record["workers"], record["db_latency_ms"])
        keyed.setdefault(key, []).append(record)
    return dict(sorted(keyed.items()))


def minutes(record: dict) -> float:
    started = datetime.fromisoformat(record["started_at"])
    return (datetime.fromisoformat(record["finished_at"]) - started).total_seconds() / 60


def section_summary(records: list[dict]) -> tuple[dict[str, Estimate], float | None,
                                                  list[str]]:
    """The section's estimates per stack, its noise floor and a line per stack."""
    kept, pairs = counted(records)
    floor = noise_floor([(rate(a), rate(b)) for a, b in pairs
                         if rate(a) is not None and rate(b) is not None])
    cells: dict[str, Estimate] = {}
    lines = []
    for stack in sorted({r["stack"] for r in kept}):
        mine = [r for r in kept if r["stack"] == stack]
        values = [v for r in mine if (v := rate(r)) is not None]
        steps = statistics.mean(len(r["capacity"]["steps"]) for r in mine)
        took = statistics.mean(minutes(r) for r in mine)
        if not values:
            lines.append(f"  {stack:16} no passing search of {len(mine)}")
            continue
        cells[stack] = estimate(values, [r["capacity"].get("failing_rps") for r in mine
                                         if rate(r) is not None])
        shown = ", ".join(f"{v:,.0f}" for v in values)
        lines.append(f"  {stack:16} {cells[stack].value:8,.0f}/s  ±{cells[stack].spread:5.1%}"
                     f"  [{shown}]  {steps:4.1f} steps, {took:3.1f} min a search")
    return cells, floor, lines


def summary(folder: Path) -> dict[Section, list[list[str]]]:
    """Print the summary of `folder`'s sittings; return their tie groups by section."""
    groups = {}
    for key, records in sections(read_records(folder)).items():
        cells, floor, lines = section_summary(records)
        found = tie_groups(cells, floor)
        groups[key] = found
        within = sum(1 for e in cells.values() if e.spread <= 0.05)
        wall = (max(datetime.fromisoformat(r["finished_at"]) for r in records)
                - min(datetime.fromisoformat(r["started_at"]) for r in records))
        floor_text = "none" if floor is None else f"{floor:.1%}"
        print(f"{key[0]}: x{key[1]}, {key[2]:g} ms: {len(records)} searches in "
              f"{wall.total_seconds() / 60:.0f} min; noise floor {floor_text}; "
              f"{within} of {len(cells)} stacks within ±5%")
        print("\n".join(lines))
        print("  groups: " + " > ".join("{" + ", ".join(g) + "}" for g in found))
    return groups


def main(argv: list[str] | None = None) -> int:
    folders = [Path(a) for a in (argv if argv is not None else sys.argv[1:])]
    if not folders or not all(f.is_dir() for f in folders):
        print("usage: python -m pyserverbench sitting-summary DIR [DIR]: result "
              f"directories that exist (given: {' '.join(map(str, folders)) or 'none'})",
              file=sys.stderr)
        return 2
    found = [summary(folder) for folder in folders]
    if len(found) == 2:
        for (a, ga), (b, gb) in zip(found[0].items(), found[1].items(), strict=False):
            same = [set(g) for g in ga] == [set(g) for g in gb]
            print(f"{a} vs {b}: tie groups {'the same' if same else 'differ'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
