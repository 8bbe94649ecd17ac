"""SVG charts of capacity searches (matplotlib). The same records give the same bytes."""

from __future__ import annotations

import io
import textwrap
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pyserverbench.report.capacity import _median, _median_record, chart_names  # noqa: E402

STYLE = {
    "svg.hashsalt": "pyserverbench",  # fixed ids inside the SVG
    "svg.fonttype": "none",  # text stays text: smaller, and no font outlines to vary
    "font.size": 9,
}
LEGEND = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "fontsize": 8,
          "borderaxespad": 0.0}  # outside the plotted area, to its right


def _text(value: str) -> str:
    """A record's text as matplotlib shows it as is: each `$` escaped, so no mathtext."""
    return value.replace("$", "\\$")


def look(stack: str) -> dict:
    """A stack's colour and marker, the same in every chart (from the stack table)."""
    from pyserverbench.matrix.stacks import STACKS

    known = STACKS.get(stack)
    colour, marker = known.look if known else ("#888888", "o")
    return {"color": colour, "marker": marker, "markeredgecolor": "#333333",
            "markeredgewidth": 0.5}


def _svg(figure: plt.Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight",
                   metadata={"Date": None, "Creator": "pyserverbench"})
    plt.close(figure)
    return out.getvalue()


def _stacks(records: list[dict]) -> list[str]:
    return sorted({r["stack"] for r in records})


def capacity_chart(records: list[dict], title: str) -> str | None:
    """Median capacity against DB latency, one line per stack, min-max as error bars;
    points without lines for a single latency; None without a successful search."""
    ok = [r for r in records if r["ok"]]
    if not ok:
        return None
    latencies = sorted({r["db_latency_ms"] for r in records})
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7.5, 4.5))
        for stack in _stacks(ok):
            found: dict[int, list[float]] = defaultdict(list)
            for r in ok:
                if r["stack"] == stack:
                    found[r["db_latency_ms"]].append(r["capacity"]["rps"])
            xs = [latencies.index(lat) for lat in sorted(found)]
            mid = [_median(found[lat]) for lat in sorted(found)]
            low = [m - min(found[lat]) for m, lat in zip(mid, sorted(found), strict=True)]
            high = [max(found[lat]) - m for m, lat in zip(mid, sorted(found), strict=True)]
            axes.errorbar(xs, mid, yerr=[low, high], label=_text(stack), capsize=3,
                          linewidth=1.2, linestyle="-" if len(latencies) > 1 else "none",
                          **look(stack))
        axes.set_xticks(range(len(latencies)), [f"{lat} ms" for lat in latencies])
        axes.set_xlim(-0.5, len(latencies) - 0.5)
        axes.set_yscale("log")
        axes.set_xlabel("fake DB latency per call")
        axes.set_ylabel("capacity at the goal (requests/s, log scale)")
        axes.set_title(textwrap.fill(_text(title), 80), fontsize=8)
        axes.grid(True, which="both", linewidth=0.3)
        axes.legend(**LEGEND)
        return _svg(figure)


def refused(step: dict) -> bool:
    """A step that failed by failed requests or dropped arrivals: its p99 is not a
    latency of the requests offered."""
    return bool(step.get("failed_requests") or step.get("dropped"))


def p99_chart(records: list[dict], goal_ms: float, title: str) -> str | None:
    """p99 latency against offered rate for one DB latency, one line per stack (the steps
    of its median search, by rate), with the goal as a dashed line; a step that failed
    by errors or drops is an x along the top, not a latency. None without a successful
    search."""
    ok = [r for r in records if r["ok"]]
    if not ok:
        return None
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7.5, 4.5))
        top = axes.get_xaxis_transform()  # x in data, y in axes coordinates
        marked = False
        for stack in _stacks(ok):
            chosen = _median_record([r for r in ok if r["stack"] == stack])
            steps = sorted(chosen["capacity"]["steps"], key=lambda s: s["offered_rps"])
            timed = [s for s in steps if not refused(s)]
            axes.plot([s["offered_rps"] for s in timed], [s["p99_ms"] for s in timed],
                      label=_text(stack), markersize=4, linewidth=1.2, **look(stack))
            lost = [s["offered_rps"] for s in steps if refused(s)]
            if lost:
                marked = True
                axes.plot(lost, [0.97] * len(lost), transform=top, linestyle="none",
                          marker="x", markersize=6, color=look(stack)["color"])
        axes.axhline(goal_ms, color="black", linestyle="--", linewidth=0.8,
                     label=f"goal {goal_ms:g} ms")
        if marked:
            axes.plot([], [], linestyle="none", marker="x", color="black",
                      label="failed by errors or drops\n(at its rate, along the top)")
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("offered rate (requests/s, log scale)")
        axes.set_ylabel("p99 latency (ms, log scale)")
        axes.set_title(textwrap.fill(_text(title), 80), fontsize=8)
        axes.grid(True, which="both", linewidth=0.3)
        axes.legend(**LEGEND)
        return _svg(figure)


def section_charts(key: tuple, records: list[dict], title: str) -> dict[str, str]:
    """File name -> SVG text for a capacity section's charts (none for a latency, or a
    section, without a successful search)."""
    by_latency: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        by_latency[record["db_latency_ms"]].append(record)
    names = chart_names(key, sorted(by_latency))
    charts = {names["map"]: capacity_chart(records, title)}
    for latency, members in sorted(by_latency.items()):
        goal = members[0]["capacity"]["goal_ms"]
        charts[names[latency]] = p99_chart(members, goal, f"{title}, {latency} ms DB latency")
    return {name: svg for name, svg in charts.items() if svg is not None}


def sweep_chart(stacks: dict[str, list[dict]], title: str) -> str | None:
    """Capacity against workers × threads, a panel per stack (its own scale): each
    configuration's median with its interval, the chosen one ringed. None without a
    successful search."""
    from pyserverbench.report.sweep import cheapest, stack_ranking

    ranked = {stack: stack_ranking(members) for stack, members in stacks.items()}
    shown = {stack: found for stack, found in ranked.items() if found.found}
    if not shown:
        return None
    columns = min(3, len(shown))
    rows = -(-len(shown) // columns)
    with plt.rc_context(STYLE):
        figure, grid = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows),
                                    squeeze=False)
        for axes in grid.flat[len(shown):]:
            axes.set_visible(False)
        for axes, (stack, found) in zip(grid.flat, shown.items(), strict=False):
            names = sorted(found.found, key=_config_order)
            values = [found.found[name].value for name in names]
            low = [v - found.found[name].low for v, name in zip(values, names, strict=True)]
            high = [found.found[name].high - v for v, name in zip(values, names, strict=True)]
            axes.errorbar(range(len(names)), values, yerr=[low, high], capsize=2,
                          linestyle="none", markersize=5, **look(stack))
            chosen = cheapest(found)
            if chosen is not None:
                at = names.index(chosen)
                axes.plot([at], [values[at]], linestyle="none", marker="o", markersize=12,
                          markerfacecolor="none", markeredgecolor="black",
                          markeredgewidth=1.2)
            axes.set_xticks(range(len(names)), [_text(n) for n in names], rotation=60, fontsize=7)
            axes.set_ylim(bottom=0)
            axes.set_title(_text(stack), fontsize=9)
            axes.grid(True, linewidth=0.3)
        figure.supxlabel("workers × threads (ringed: the cheapest of the leading group)",
                         fontsize=8)
        figure.supylabel("capacity at the goal (requests/s)", fontsize=8)
        figure.suptitle(textwrap.fill(_text(title), 100), fontsize=8)
        figure.tight_layout()
        return _svg(figure)


def _config_order(name: str) -> tuple[int, int]:
    workers, _, threads = name.partition(" × ")
    return int(workers), int(threads)
