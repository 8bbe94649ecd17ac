"""Capacity at a latency goal: what one open-loop step measured, whether it passed, and
the search for the highest arrival rate that passes.

A step passes when p99 latency is within the goal, no request failed, no iteration was
dropped (k6 had no free virtual user to send on time) and the achieved rate is at least
99% of the offered one. Near the knee a server fails a step now and then and passes the
next at the same rate (a backlog that makes each request dearer, see docs/capacity.md),
so one step does not decide the answer: the failed rate that bounds it is run again, and
so is the passing rate that is the answer, and the majority of up to three steps decides
each (a failure that passes lets the search go on above it; a pass that fails, below).
Only a step that fell far behind (achieved under 80% of the rate) is trusted alone. The
search starts low and, after each step that passes, jumps to a share of what theory
allows for the CPU cost it measured (or climbs by 15%), until a rate fails; then it
halves the gap between the highest passing and the lowest failing rate until it is
within the resolution. A search told where an earlier search of the same cell ended
(`near`, a sitting's later rounds) starts there and climbs by the resolution, doubled
with each pass, or steps down by twice the resolution, doubled with each failure (at
most halving), while nothing has passed."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyserverbench import ROOT
from pyserverbench.cli.capacity_options import MIN_REQUESTS
from pyserverbench.harness.k6 import script_argv
from pyserverbench.matrix.workloads import STUDY_MIX

SCRIPT = ROOT / "capacity.js"

MEASURED = "{scenario:measure}"  # the sub-metrics capacity.js keeps apart from the warm-up
ACHIEVED_FRACTION = 0.99
MIN_RPS = 1.0  # below this a search gives up: no capacity at the goal
MAX_STEP_S = 10  # a step measures MIN_REQUESTS unless that takes longer (the record says)
VOTES = 3  # a rate whose first step failed is run up to this many times: the majority decides
BEHIND = 0.8  # a failed step that achieved less than this share of its rate is trusted alone
AIM = 0.8  # while climbing, jump to this share of the rate the CPU cost allows ...
AIM_SLOTS = 0.9  # ... or the slots allow, where they bind first (a closer bound) ...
AIMED_CLIMB = 1.15  # ... or climb by this factor, whichever is higher (2 without an aim)
FIRST_SLOTS = 0.8  # a blocking server starts at this share of its slots over the DB wait
NEAR_DOWN = 2  # a search near an earlier answer first steps down by this many resolutions
STEP_STEAL_LIMIT = 0.03  # a step whose CPUs lost more than this share to steal runs again
SET_ASIDE_MOST = 6  # ... at most this many times in a search; then steps count as they are
DEFAULT_GOAL_MARGIN_MS = 50.0  # the goal is p99 <= DB time + this, unless given


def default_goal_ms(db_latency_ms: float, calls: int = 1) -> float:
    """The latency goal when none is given: p99 within the DB time of the mix's longest
    request if its `calls` are made one after another, plus 50 ms. The same goal for
    every app, so an app that overlaps its calls is not held to a stricter one."""
    return calls * db_latency_ms + DEFAULT_GOAL_MARGIN_MS


def vus_for(rate: float, goal_ms: float) -> int:
    """Virtual users for a step: enough for every request in flight while latency stays
    within the goal (Little's law: in flight = rate x latency), with half again as
    headroom. Drops then mean the server fell behind, not that k6 ran short."""
    return max(10, math.ceil(rate * goal_ms / 1000 * 1.5))


def step_figures(summary: dict, offered: float, duration_s: float) -> dict:
    """A step's figures from k6's summary: only the measured scenario counts."""
    metrics = summary["metrics"]
    duration = metrics[f"http_req_duration{MEASURED}"]
    requests = int(metrics[f"http_reqs{MEASURED}"]["count"])
    failed = metrics[f"http_req_failed{MEASURED}"]
    return {
        "offered_rps": offered,
        "achieved_rps": round(requests / duration_s, 2),
        "requests": requests,
        "failed_requests": int(failed.get("passes", 0)),
        "dropped": int(metrics.get(f"dropped_iterations{MEASURED}", {}).get("count", 0)),
        "total_requests": int(metrics["http_reqs"]["count"]),  # warm-up included
        "mean_ms": float(duration["avg"]),
        "p50_ms": float(duration["med"]),
        "p95_ms": float(duration["p(95)"]),
        "p99_ms": float(duration["p(99)"]),
    }


def step_problem(step: dict, goal_ms: float) -> str | None:
    """Why a step does not pass, or None if it does."""
    if step["failed_requests"]:
        return f"{step['failed_requests']} requests failed"
    if step["dropped"]:
        return (f"{step['dropped']} iterations dropped (no free virtual user: the server "
                f"fell behind)")
    if step["achieved_rps"] < ACHIEVED_FRACTION * step["offered_rps"]:
        return (f"achieved {step['achieved_rps']:,.1f}/s of {step['offered_rps']:,.1f}/s "
                f"offered")
    if step["p99_ms"] > goal_ms:
        return f"p99 {step['p99_ms']:.1f} ms over the goal of {goal_ms:g} ms"
    return None


LOAD_BUSY = 0.85  # a load side using this share of its CPUs may have been the limit


def little(step: dict, slots: int | None, db_wait_ms: float) -> dict:
    """Little's law on a step: requests in flight = achieved rate x mean latency.

    Inconsistent if k6 had more in flight than it has virtual users (checked only on a
    step without drops: an overloaded step is not in a steady state), or if a server
    that holds `slots` requests at once (each for at least `db_wait_ms`, the mix's mean
    DB wait) served faster than slots / db_wait allows."""
    in_flight = step["achieved_rps"] * step["mean_ms"] / 1000
    problems = []
    if not step["dropped"] and in_flight > step["vus"] * 1.01:
        problems.append(f"{in_flight:.1f} requests in flight on average, more than k6's "
                        f"{step['vus']} virtual users")
    if slots is not None and db_wait_ms > 0:
        most = slots / (db_wait_ms / 1000)
        if step["achieved_rps"] > most * 1.01:
            problems.append(f"achieved {step['achieved_rps']:,.1f}/s, more than {slots} "
                            f"requests at a time, each waiting {db_wait_ms:g} ms on "
                            f"average, allow ({most:,.1f}/s)")
    return {"in_flight": round(in_flight, 2), "problems": problems}


def load_busy(usage: dict, load_cpus: int) -> float:
    """The share of the load side's CPUs that k6, the fake DB and the harness used."""
    wall = usage["k6"]["wall_s"]
    if wall <= 0 or load_cpus <= 0:
        return 0.0
    db_rate = usage["fakedb"]["cpu_s"] / usage["window_s"] if usage["window_s"] > 0 else 0.0
    busy = (usage["k6"]["cpu_s"] + usage["harness"]["cpu_s"]) / wall + db_rate
    return round(busy / load_cpus, 3)


def cpu_per_1000(usage: dict, achieved_rps: float) -> float | None:
    """Server CPU seconds per 1,000 requests over the sampled window of a step."""
    served = achieved_rps * usage["window_s"]
    if served <= 0:
        return None
    return round(usage["server"]["cpu_s"] / served * 1000, 4)


def bounds(slots: int | None, server_cpus: int, db_wait_ms: float,
           cpu_s_per_1000: float | None) -> dict:
    """What theory allows, in requests per second: the server's CPUs over the CPU cost of
    a request; and for a blocking server, its slots over the time each request holds one
    (the mix's mean DB wait plus its CPU cost). None where it cannot be worked out."""
    cpu_s = cpu_s_per_1000 / 1000 if cpu_s_per_1000 else None
    by_cpu = round(server_cpus / cpu_s, 1) if cpu_s else None
    held_s = db_wait_ms / 1000 + (cpu_s or 0.0)
    by_slots = round(slots / held_s, 1) if slots is not None and held_s > 0 else None
    known = [b for b in (by_cpu, by_slots) if b is not None]
    return {"cpu_rps": by_cpu, "slots_rps": by_slots, "rps": min(known) if known else None}


def step_seconds(rate: float, shortest: int, requests: int = MIN_REQUESTS) -> int:
    """A step's measured seconds at `rate`: at least `shortest`, and long enough for
    `requests` requests, up to MAX_STEP_S."""
    return max(shortest, min(MAX_STEP_S, math.ceil(requests / rate)))


def first_rate(start_rps: float, slots: int | None, db_wait_ms: float) -> float:
    """The first rate of a search: `start_rps`, or for a blocking server FIRST_SLOTS of
    its slots over the DB wait (its bound before any CPU cost; close to its knee, as
    measured: sync and waitress reach 96-101% of it), whichever is lower."""
    if slots is None or db_wait_ms <= 0:
        return start_rps
    return max(MIN_RPS, min(start_rps, round(slots / (db_wait_ms / 1000) * FIRST_SLOTS, 1)))


def aim(step: dict, slots: int | None, server_cpus: int, db_wait_ms: float) -> float | None:
    """Where to jump after a step that passed: a share of the bound its CPU cost and the
    slots give (AIM_SLOTS where the slots bind, AIM where the CPUs do; None if its cost
    could not be measured)."""
    cost = step.get("cpu_s_per_1000")
    if not cost:
        return None
    found = bounds(slots, server_cpus, db_wait_ms, cost)
    if found["slots_rps"] is not None and found["slots_rps"] <= (found["cpu_rps"] or math.inf):
        return round(found["slots_rps"] * AIM_SLOTS, 1)
    return round(found["cpu_rps"] * AIM, 1) if found["cpu_rps"] else None


def behind(step: dict) -> bool:
    """True if a step fell clearly behind its rate: overload, not a stall."""
    return step["achieved_rps"] < BEHIND * step["offered_rps"]


@dataclass
class Search:
    """The steps of one search and what it found."""

    start_rps: float
    resolution: float  # stop when (lowest failing - highest passing) / highest passing <= this
    max_rps: float
    steps: list[dict] = field(default_factory=list)
    passing: float | None = None  # highest offered rate that passed
    failing: float | None = None  # lowest rate above it that failed (confirmed at the end)
    error: str | None = None  # why the search stopped before it was over
    aim: float | None = None  # where the knee is expected: the climb jumps there
    votes: dict[float, list[str]] = field(default_factory=dict)  # rate -> pass/fail/behind
    near: float | None = None  # an earlier search's answer: start there, move by the resolution

    def verdict(self, rate: float) -> bool | None:
        """Whether `rate` passed (True), failed (False), or needs another step (None): a
        lone first step decides, unless it failed without falling far behind; once a
        rate has run again, the majority of up to three steps decides."""
        votes = self.votes.get(rate, [])
        if not votes:
            return None
        if len(votes) == 1 and votes[0] != "fail":
            return votes[0] == "pass"
        passes, fails = votes.count("pass"), len(votes) - votes.count("pass")
        if fails * 2 > VOTES or votes[-1] == "behind":
            return False
        if passes * 2 > VOTES:
            return True
        return None

    def next_rate(self) -> float | None:
        """The next rate to try, or None when the search is over. A failed step is
        confirmed only where it decides: once it bounds the answer within the
        resolution (the failures above it no longer matter)."""
        low, high = self.passing, self.failing
        if high is None:  # climbing
            if low is None:
                return self.start_rps
            if low >= self.max_rps:
                return None
            if self.near is not None:  # the resolution, doubled with every pass above near
                passes = max(1, sum(self.verdict(rate) is True for rate in self.votes
                                    if rate >= self.near))
                up = math.floor(low * (1 + self.resolution * 2 ** (passes - 1)) * 10) / 10
                return min(max(up, low + 0.1), self.max_rps)
            climb = low * (2.0 if self.aim is None else AIMED_CLIMB)
            return round(min(max(climb, self.aim or 0.0), self.max_rps), 1)
        if low is None:  # even the start failed: step down until a rate passes
            share = 0.5 if self.near is None else max(  # near: the step doubles too
                0.5, 1 - NEAR_DOWN * self.resolution * 2 ** (len(self.votes) - 1))
            lower = round(high * share, 1)
            if lower >= MIN_RPS:
                return lower
            return high if self.verdict(high) is None else None
        middle = round((low + high) / 2, 1)
        if (high - low) / low <= self.resolution or middle in (low, high):
            if self.verdict(high) is None:  # the failure that bounds the answer, again
                return high
            if len(self.votes.get(low, [])) < 2:  # and the pass that is the answer
                return low
            return None
        return middle

    def record(self, step: dict, reason: str | None) -> None:
        rate = step["offered_rps"]
        vote = "pass" if reason is None else "behind" if behind(step) else "fail"
        self.votes.setdefault(rate, []).append(vote)
        settled = self.verdict(rate)
        self.steps.append({**step, "passed": reason is None, "reason": reason,
                           "vote": len(self.votes[rate]), "settled": settled})
        self.passing = max((r for r in self.votes if self.verdict(r) is True), default=None)
        failed = [r for r, votes in self.votes.items() if votes != ["pass"] * len(votes)
                  and self.verdict(r) is not True and r > (self.passing or 0.0)]
        self.failing = min(failed, default=None)

    def capacity(self) -> float | None:
        """The highest rate that passed, or None if none did."""
        return self.passing


def search(measure: Callable[[float], dict], goal_ms: float, start_rps: float,
           resolution: float = 0.05, max_rps: float = 100_000.0,
           on_step: Callable[[dict], None] | None = None, max_steps: int = 40,
           aim_after: Callable[[dict], float | None] | None = None,
           near: float | None = None) -> Search:
    """Run steps (`measure(rate)` returns a step's figures) until the search is over, or
    `max_steps` have run (then `error` says so). `aim_after(step)`, if given, says
    where to jump after a step that passed while climbing. With `near` (an earlier
    search's answer) the search starts there instead of `start_rps` and ignores the aim."""
    state = Search(near or start_rps, resolution, max_rps, near=near)
    rate = state.next_rate()
    while rate is not None:
        if len(state.steps) >= max_steps:
            state.error = f"not over after {max_steps} steps"
            break
        step = measure(rate)
        state.record(step, step_problem(step, goal_ms))
        if aim_after is not None and near is None and state.failing is None and \
                state.steps[-1]["passed"]:
            state.aim = aim_after(state.steps[-1])
        if on_step is not None:
            on_step(state.steps[-1])
        rate = state.next_rate()
    return state


def steady(measure: Callable[[float], dict], set_aside: list[dict],
           limit: float = STEP_STEAL_LIMIT, most: int = SET_ASIDE_MOST,
           ) -> Callable[[float], dict]:
    """`measure`, but a step during which the hypervisor stole more than `limit` of the
    run's CPUs' time is set aside (kept in `set_aside` with its reason, not judged) and
    the rate is run again, up to `most` times in all; after that a step counts as it is
    (the run's own watch then says how much was stolen)."""
    def run(rate: float) -> dict:
        while True:
            step = measure(rate)
            stolen = step["usage"].get("steal", 0.0)
            if stolen <= limit or len(set_aside) >= most:
                return step
            set_aside.append({**step, "set_aside": f"CPU steal {stolen:.1%} of the step's "
                                                   f"CPU time (limit {limit:.0%})"})
    return run


def step_argv(k6: str, summary: Path, base_url: str, rate: float, duration_s: int,
              warmup_s: int, vus: int, mix: str = STUDY_MIX,
              requests: list[list] | None = None, script: Path = SCRIPT) -> list[str]:
    """The k6 command line of one open-loop step; `requests` ([path, weight, method,
    JSON body file or None] each) replace the mix's GETs where a user's load has
    others."""
    variables: dict[str, object] = {
        "BASE_URL": base_url, "RATE": f"{rate:g}", "DURATION": f"{duration_s}s",
        "WARMUP": f"{warmup_s}s", "VUS": vus, "MIX": mix}
    if requests is not None:
        variables["REQUESTS"] = json.dumps(requests, separators=(",", ":"))
    return script_argv(k6, script, summary, variables)


def users_script(user: Path, folder: Path) -> Path:
    """A k6 script with capacity.js's arrival-rate scenarios whose every iteration is the
    default function of a user's script (its own options are not used), written in
    `folder`."""
    wrapper = folder / f"capacity-{user.stem}.js"
    wrapper.write_text(
        f"// capacity.js's arrival-rate scenarios; each iteration is {user.name}'s default\n"
        f"import iteration from {json.dumps(user.resolve().as_uri())};\n"
        f"export {{ options }} from {json.dumps(SCRIPT.resolve().as_uri())};\n\n"
        f"export default function () {{\n  iteration();\n}}\n")
    return wrapper
