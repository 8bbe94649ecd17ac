"""The report's view across Pythons: per stack, one column per Python, each cell a
median with its spread, for every scenario measured on two or more Pythons on one host."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable

from pyserverbench.records import python_order
from pyserverbench.report.markdown import pipe_table
from pyserverbench.report.rows import stack_cell

INTRO = """\
## Across Pythons

The same scenarios on each Python, one table per scenario, host and commit (so that a
table never pools sittings of different commits), one row per stack
(with its threads), one column per Python. A closed-loop cell is the median rate of
requests handled (req/s), its min-max, and the median server CPU milliseconds per
request; a capacity cell is the median capacity (req/s) and its min-max. Only scenarios
measured on two or more Pythons are shown; failed runs are counted in the cell and left
out of the figures.
Use `nox -s compare -- python=3.12 python=3.13` to ask whether a change is more than
noise.
"""


def rate(value: float) -> str:
    """Requests per second: whole numbers from 100 up, one decimal below."""
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def closed_cell(runs: list[dict]) -> str:
    """`1,602 (1,597-1,607)/s, 0.41 CPU ms/req` for the successful runs; failures
    counted."""
    good = [r for r in runs if r["ok"]]
    failed = f"{len(runs) - len(good)} failed" if len(good) < len(runs) else ""
    if not good:
        return failed
    rates = [r["metrics"]["requests"] / r["duration_s"] for r in good]
    text = rate(statistics.median(rates))
    if len(good) > 1:
        text += f" ({rate(min(rates))}-{rate(max(rates))})"
    text += "/s"
    cpu = [1000 * r["usage"]["server"]["cpu_s"] / r["metrics"]["requests"] for r in good
           if r.get("usage") and r["usage"]["server"]["cpu_s"] > 0]
    if cpu:
        text += f", {statistics.median(cpu):.2f} CPU ms/req"
    return text + (f"; {failed}" if failed else "")


def capacity_cell(runs: list[dict]) -> str:
    """`1,250 (1,100-1,300)/s` for the successful searches; failures counted."""
    good = [r["capacity"]["rps"] for r in runs if r["ok"]]
    failed = f"{len(runs) - len(good)} failed" if len(good) < len(runs) else ""
    if not good:
        return failed
    text = rate(statistics.median(good))
    if len(good) > 1:
        text += f" ({rate(min(good))}-{rate(max(good))})"
    return text + "/s" + (f"; {failed}" if failed else "")


def table_text(headers: list[str], rows: list[list[str]]) -> str:
    """A view's table in Markdown: a row per stack, a column per Python."""
    return pipe_table(rows, headers, ("left", *("right",) * (len(headers) - 1)))


def view_rows(records: list[dict], key: Callable[[dict], tuple],
              cell: Callable[[list[dict]], str]) -> list[tuple[tuple, list[dict], list[str],
                                                               list[list[str]]]]:
    """For each scenario (`key`, which leaves Python out) on two or more Pythons: its
    key, its records, and the headers and rows of a table with a row per stack and a
    column per Python."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    found = []
    for scenario in sorted(groups, key=repr):
        members = groups[scenario]
        pythons = sorted({r["python"] for r in members}, key=python_order)
        if len(pythons) < 2:
            continue
        cells: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for record in members:
            cells[stack_cell(record)][record["python"]].append(record)
        rows = [[stack, *(cell(cells[stack][p]) if cells[stack][p] else "—"
                          for p in pythons)] for stack in sorted(cells)]
        found.append((scenario, members, ["Stack", *(f"Python {p}" for p in pythons)], rows))
    return found
