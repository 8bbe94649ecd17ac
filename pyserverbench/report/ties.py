"""How sure a figure is, and which differences are real: each cell's estimate with a
distribution-free interval, the noise floor from A/A pairs, and tie groups.

- A cell's estimate is the median of its repeats. Its interval runs from the k-th
  lowest to the k-th highest repeat, k the largest for which that interval holds the
  true median with at least 75% confidence (order statistics: the chance that fewer
  than k of n repeats fall below the median is a binomial tail). For n = 3 that is the
  lowest and highest (75%); for n = 5 still (94%); for n = 8, the 2nd of each end (93%).
  A capacity search's own bracket widens it: from its highest passing rate to its
  lowest failing one.
- The noise floor of a section is the median difference, relative to their mean,
  between the two measurements of its A/A pairs (one cell measured twice in a round,
  half a round apart; another cell in each round where the section has more). The
  median, not the largest: the floor is what two measurements of one cell differ by in
  this section, and a noisy cell's own spread is in its interval already.
- Stacks tie when their intervals overlap or their estimates differ by less than the
  noise floor. Groups are formed down the ranking by estimate: a stack joins the group
  above if it ties with that group's leader, else it leads a new group (so a group
  never holds a stack ranked below one it left out). Only groups are ranked, and a cell
  of fewer than 3 repeats is in none (its interval says too little).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

CONFIDENCE = 0.75  # the least confidence an interval must have
MIN_RANKED = 3  # a cell with fewer repeats is in no group: its interval is too weak


def coverage(n: int, k: int) -> float:
    """The confidence that the k-th lowest to the k-th highest of n repeats hold the
    median: 1 - 2 P(Binomial(n, 1/2) < k)."""
    tail = sum(math.comb(n, i) for i in range(k)) / 2**n
    return 1 - 2 * tail


def order_index(n: int, confidence: float = CONFIDENCE) -> int:
    """The largest k (1 at least) whose interval has `confidence`."""
    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(n, k + 1) >= confidence:
        k += 1
    return k


@dataclass(frozen=True)
class Estimate:
    """A cell's figure: its median and its interval, from `n` repeats, and the largest
    distance of a repeat from the median relative to it (`spread`)."""

    value: float
    low: float
    high: float
    n: int
    confidence: float
    spread: float

    def overlaps(self, other: Estimate) -> bool:
        return self.low <= other.high and other.low <= self.high


def estimate(values: list[float], highs: list[float | None] | None = None) -> Estimate:
    """The estimate of one cell from its repeats' `values`; `highs`, if given, each
    repeat's upper end (a search's lowest failing rate; None where none failed)."""
    if not values:
        raise ValueError("an estimate needs one value or more")
    n = len(values)
    k = order_index(n)
    ordered = sorted(values)
    tops = sorted(high if high is not None else value
                  for value, high in zip(values, highs or values, strict=True))
    middle = statistics.median(values)
    spread = max(abs(v - middle) for v in values) / middle if middle else 0.0
    return Estimate(middle, ordered[k - 1], tops[n - k], n, round(coverage(n, k), 4),
                    round(spread, 4))


def pair_gaps(pairs: list[tuple[float, float]]) -> list[float]:
    """Each A/A pair's difference relative to its mean (pairs summing to 0 left out)."""
    return [abs(a - b) / ((a + b) / 2) for a, b in pairs if a + b > 0]


def median_gap(gaps: list[float]) -> float | None:
    """The noise floor of these A/A gaps: their median (None without one)."""
    return statistics.median(gaps) if gaps else None


def noise_floor(pairs: list[tuple[float, float]]) -> float | None:
    """The median relative difference within A/A pairs; None without a pair."""
    return median_gap(pair_gaps(pairs))


def tied(a: Estimate, b: Estimate, floor: float | None) -> bool:
    """Whether two cells' difference is not shown: intervals overlap, or the estimates
    are closer than the noise floor."""
    if a.overlaps(b):
        return True
    mean = (a.value + b.value) / 2
    return floor is not None and mean > 0 and abs(a.value - b.value) / mean <= floor


def tie_groups(cells: dict[str, Estimate], floor: float | None) -> list[list[str]]:
    """The cells' names in tie groups, best first: in order of estimate, each joins the
    group above if tied with its leader, else leads the next; cells with fewer than
    MIN_RANKED repeats are left out (see unranked)."""
    left = sorted((name for name in cells if cells[name].n >= MIN_RANKED),
                  key=lambda name: (-cells[name].value, name))
    groups: list[list[str]] = []
    for name in left:
        if groups and tied(cells[groups[-1][0]], cells[name], floor):
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


def unranked(cells: dict[str, Estimate]) -> list[str]:
    """The cells too few repeats leave out of every group, by estimate."""
    return sorted((name for name in cells if cells[name].n < MIN_RANKED),
                  key=lambda name: (-cells[name].value, name))


@dataclass(frozen=True)
class Ranking:
    """A table's cells ranked: each cell's runs and estimate, the tie groups, the cells
    too few repeats leave out, the failed runs and the noise floor."""

    runs: dict[str, list[dict]]
    found: dict[str, Estimate]
    groups: list[list[str]]
    unranked: list[str]
    failed: list[dict]
    floor: float | None

    def order(self, none: str) -> list[tuple[str, str]]:
        """The cells in table order, each with its group's number (`none` for a cell in
        no group): the groups best first, then the unranked."""
        return ([(name, str(number)) for number, members in enumerate(self.groups, start=1)
                 for name in members] + [(name, none) for name in self.unranked])


def ranking(runs: dict[str, list[dict]], found: dict[str, Estimate], failed: list[dict],
            floor: float | None) -> Ranking:
    """Rank cells whose estimates are `found`."""
    return Ranking(runs, found, tie_groups(found, floor), unranked(found), failed, floor)


def _place(record: dict) -> dict:
    """A record's place in its sitting (empty for a run on its own)."""
    return record.get("sitting") or {}


def counted(records: list[dict]) -> tuple[list[dict], list[tuple[dict, dict]]]:
    """The records that count as repeats (neither the second of an A/A pair nor a
    disturbed run that was run again), and the A/A pairs (first, second)."""
    rerun = {_place(r).get("rerun_of") for r in records} - {None}
    live = [r for r in records if _place(r).get("order") not in rerun]
    kept = [r for r in live if not _place(r).get("aa")]
    firsts = {(_place(r).get("cell"), _place(r).get("round")): r for r in kept if _place(r)}
    pairs = [(firsts[key], r) for r in live if _place(r).get("aa")
             and (key := (_place(r).get("cell"), _place(r).get("round"))) in firsts]
    return kept, pairs


def aa_gaps(records: list[dict], value: Callable[[dict], float]) -> list[tuple[str, float]]:
    """The A/A pairs of `records` that both finished, in order: each one's stack and the
    gap between its two `value`s relative to their mean."""
    _, pairs = counted(records)
    both = [(a["stack"], (value(a), value(b))) for a, b in pairs if a["ok"] and b["ok"]]
    return [(stack, gap) for stack, pair in both for gap in pair_gaps([pair])]


def floor_of(records: list[dict], value: Callable[[dict], float]) -> float | None:
    """A section's noise floor: the median gap of its A/A pairs (None without one)."""
    return median_gap([gap for _, gap in aa_gaps(records, value)])


def sitting_facts(records: list[dict], value: Callable[[dict], float] | None,
                  what: str) -> list[str]:
    """What a table of a sitting rests on: its noise floor from the A/A pairs (their
    `value`s; None: not stated), the runs disturbed (and run again), and the range of
    the server CPU's speed."""
    _, pairs = counted(records)
    facts = []
    if pairs and value is not None:
        gaps = aa_gaps(records, value)
        each = ", ".join(f"{stack} {gap:.1%}" for stack, gap in gaps)
        counted_pairs = f"{len(gaps)} A/A pair" + ("s" if len(gaps) != 1 else "")
        facts.append(f"Noise floor: {median_gap([g for _, g in gaps]):.1%}, the median "
                     f"gap of {counted_pairs} (a stack measured twice in a round, half "
                     f"a round apart): {each}." if gaps
                     else "Noise floor: no A/A pair where both passed.")
    disturbed = [r for r in records if (r.get("machine") or {}).get("disturbed")]
    if disturbed:
        facts.append(f"Disturbed: {len(disturbed)} {what} (run again once, later in the "
                     f"sitting): " + "; ".join(sorted({d for r in disturbed
                                                       for d in r["machine"]["disturbed"]})))
    aside = [len((r.get("capacity") or {}).get("set_aside") or []) for r in records]
    if sum(aside):
        judged = sum(len((r.get("capacity") or {}).get("steps") or []) for r in records)
        facts.append(f"Steps set aside for CPU steal: {sum(aside)} (in {sum(map(bool, aside))} "
                     f"of {len(records)} {what}; each rate run again), beside {judged} "
                     f"judged steps.")
    probed = [r["capacity"]["speed"]["median_ms"] for r in records
              if ((r.get("capacity") or {}).get("speed") or {}).get("median_ms")]
    if len(probed) > 1:
        facts.append(f"The server CPU's speed while the steps ran (CPU ms of a short fixed "
                     f"task, median per search): {min(probed):.2f}–{max(probed):.2f} ms, "
                     f"{max(probed) / min(probed):.2f} times apart (median "
                     f"{statistics.median(probed):.2f} ms).")
    speeds = [r["machine"]["cpu_speed"]["task_ms"] for r in records if r.get("machine")]
    if len(speeds) > 1:
        facts.append(f"The server CPU's speed on a fixed task: {min(speeds):.1f}–"
                     f"{max(speeds):.1f} ms over the {what} (median "
                     f"{statistics.median(speeds):.1f} ms).")
    return facts
