"""The capacity search's logic, against servers whose capacity the test chooses."""

import collections
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from helpers import serving

from pyserverbench.harness.k6 import find_k6, read_summary, run_k6
from pyserverbench.measure.search import (
    MAX_STEP_S,
    MIN_REQUESTS,
    SCRIPT,
    Search,
    aim,
    default_goal_ms,
    first_rate,
    search,
    steady,
    step_argv,
    step_figures,
    step_problem,
    step_seconds,
    users_script,
    vus_for,
)

GOAL = 75.0


def _step(rate: float, p99: float = 30.0, failed: int = 0, dropped: int = 0,
          achieved: float | None = None) -> dict:
    return {"offered_rps": rate, "achieved_rps": rate if achieved is None else achieved,
            "requests": int(rate * 10), "failed_requests": failed, "dropped": dropped,
            "p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": p99}


def run_step(base_url: str, rate: float, duration_s: int, warmup_s: int, vus: int,
             logs: Path, mix: str = "/:2,/api:1", **load: object) -> dict:
    """One open-loop step with real k6, as the capacity runner makes it (`load`: a
    user's `requests` or `script`, as step_argv takes them)."""
    summary = logs / f"step-{rate:g}-{vus}.json"
    argv = step_argv(find_k6(), summary, base_url, rate, duration_s, warmup_s, vus, mix,
                     **load)
    code, abort = run_k6(argv, logs / "k6.log", warmup_s + duration_s + 60.0, [])
    assert (code, abort) == (0, None)
    return step_figures(read_summary(summary), rate, duration_s)


def _server(capacity: float):
    """A server that keeps the goal up to `capacity` requests per second."""
    def measure(rate: float) -> dict:
        return _step(rate, p99=30.0 if rate <= capacity else 500.0)
    return measure


@pytest.mark.parametrize("capacity", [37.0, 100.0, 1234.5, 9999.0])
def test_the_search_finds_the_capacity_within_the_resolution(capacity):
    found = search(_server(capacity), GOAL, start_rps=50, resolution=0.05)
    assert found.capacity() <= capacity < found.failing
    assert (found.failing - found.capacity()) / found.capacity() <= 0.05
    assert all(s["passed"] == (s["offered_rps"] <= capacity) for s in found.steps)
    assert len(found.steps) < 20


def test_a_step_the_hypervisor_stole_from_is_set_aside_and_its_rate_run_again():
    stolen = iter([0.08, 0.031, 0.0, 0.2, 0.01])  # the share stolen, step after step
    runs: list[float] = []

    def measure(rate: float) -> dict:
        runs.append(rate)
        return {**_step(rate, p99=500.0 if rate > 120 else 30.0),
                "usage": {"steal": next(stolen, 0.0)}}

    set_aside: list[dict] = []
    found = search(steady(measure, set_aside, limit=0.03, most=6), GOAL, start_rps=100,
                   resolution=0.5)
    assert runs[:3] == [100, 100, 100]  # 8% and 3.1% stolen: run again; 0% counts
    assert [s["usage"]["steal"] for s in set_aside] == [0.08, 0.031, 0.2]
    assert set_aside[0]["set_aside"] == "CPU steal 8.0% of the step's CPU time (limit 3%)"
    assert [s["usage"]["steal"] for s in found.steps][:2] == [0.0, 0.01]
    assert found.capacity() == 100


def test_after_the_most_set_aside_a_stolen_step_counts_as_it_is():
    set_aside: list[dict] = []
    measure = steady(lambda rate: {**_step(rate), "usage": {"steal": 0.5}}, set_aside,
                     limit=0.03, most=2)
    assert measure(10)["usage"]["steal"] == 0.5  # the third step is returned
    assert len(set_aside) == 2
    assert measure(10) and len(set_aside) == 2  # and no more are set aside
    steady_step = steady(lambda rate: {**_step(rate), "usage": {}}, set_aside, most=9)(10)
    assert steady_step["offered_rps"] == 10 and len(set_aside) == 2  # no steal counted: 0


def _rates(found) -> list[float]:
    """The rates a search tried, a rate run again (to confirm a failure) once."""
    return [s["offered_rps"] for s in found.steps if s["vote"] == 1]


def test_the_search_climbs_by_doubling_then_halves_the_gap():
    found = search(_server(300), GOAL, start_rps=100, resolution=0.05)
    assert _rates(found)[:3] == [100, 200, 400]  # doubling until 400 fails
    assert _rates(found)[3] == 300.0  # then the middle of 200 and 400


def test_a_start_that_fails_steps_down_and_nothing_passing_means_no_capacity():
    found = search(_server(30), GOAL, start_rps=100, resolution=0.05)
    assert _rates(found)[:3] == [100, 50.0, 25.0]
    assert 28.5 <= found.capacity() <= 30
    never = search(_server(0.1), GOAL, start_rps=8, resolution=0.05)
    assert never.capacity() is None
    assert _rates(never) == [8, 4.0, 2.0, 1.0]
    assert len(never.steps) == 5  # the last failure, the one that decides, confirmed


def test_the_search_stops_at_its_highest_rate():
    found = search(_server(10**9), GOAL, start_rps=100, max_rps=1000)
    assert [s["offered_rps"] for s in found.steps] == [100, 200, 400, 800, 1000]
    assert found.capacity() == 1000 and found.failing is None


def test_every_step_is_reported_as_it_ends():
    seen = []
    found = search(_server(300), GOAL, start_rps=100, on_step=seen.append)
    assert seen == found.steps and all("reason" in s for s in seen)


@pytest.mark.parametrize(("step", "reason"), [
    (_step(100), None),
    (_step(100, p99=75.0), None),  # at the goal is within it
    (_step(100, p99=75.1), "p99 75.1 ms over the goal of 75 ms"),
    (_step(100, failed=2), "2 requests failed"),
    (_step(100, dropped=3), "3 iterations dropped (no free virtual user: the server fell "
                            "behind)"),
    (_step(100, achieved=99.0), None),  # 99% of the offered rate is enough
    (_step(100, achieved=98.9), "achieved 98.9/s of 100.0/s offered"),
])
def test_a_step_passes_only_within_the_goal_with_nothing_failed_or_dropped(step, reason):
    assert step_problem(step, GOAL) == reason


def test_the_goal_and_the_virtual_users_follow_from_the_scenario():
    assert default_goal_ms(25) == 75.0 and default_goal_ms(0) == 50.0
    assert vus_for(1000, 75) == 113  # 1000/s x 0.075 s in flight, x1.5 headroom
    assert vus_for(10, 50) == 10  # never fewer than 10


def test_a_steps_figures_are_those_of_the_measured_scenario_only():
    summary = {"metrics": {
        "http_reqs": {"count": 999},  # warm-up and measure together: the probe's check
        "http_reqs{scenario:measure}": {"count": 1000},
        "http_req_failed{scenario:measure}": {"passes": 1, "value": 0.001},
        "dropped_iterations{scenario:measure}": {"count": 2},
        "http_req_duration{scenario:measure}": {"avg": 4.5, "med": 3.0, "p(95)": 7.5,
                                                "p(99)": 12.25},
    }}
    assert step_figures(summary, offered=100.0, duration_s=10) == {
        "offered_rps": 100.0, "achieved_rps": 100.0, "requests": 1000, "failed_requests": 1,
        "dropped": 2, "total_requests": 999, "mean_ms": 4.5, "p50_ms": 3.0, "p95_ms": 7.5,
        "p99_ms": 12.25}
    del summary["metrics"]["dropped_iterations{scenario:measure}"]  # none dropped
    assert step_figures(summary, 100.0, 10)["dropped"] == 0


def _counting(seen: collections.Counter, delay_s) -> type:
    """A handler that answers every GET `ok` after `delay_s(path)`, counting paths."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802
            time.sleep(delay_s(self.path))
            seen[self.path] += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    return Handler


@pytest.mark.processes
def test_a_real_open_loop_step_counts_only_the_measured_part_in_the_studys_mix(tmp_path):
    seen: collections.Counter = collections.Counter()
    Handler = _counting(seen, lambda path: 0.1 if path == "/slow" else 0.005)  # noqa: N806

    with serving(Handler) as base_url:
        step = run_step(base_url, rate=60, duration_s=3, warmup_s=1, vus=20, logs=tmp_path)
        starved = run_step(base_url, rate=60, duration_s=2, warmup_s=1, vus=1,
                           logs=tmp_path, mix="/slow:1")
    assert step["failed_requests"] == 0 and step["dropped"] == 0
    assert 170 <= step["requests"] <= 185  # 3 s at 60/s; the warm-up's 60 not counted
    assert seen["/"] + seen["/api"] >= 230  # the server saw the warm-up too
    assert abs(seen["/"] - 2 * seen["/api"]) <= 2  # two GET / for each GET /api
    assert step["p50_ms"] >= 5
    # one virtual user, 0.1 s a request: at most 10 of the 60 a second are sent on time
    assert starved["dropped"] >= 60 and starved["achieved_rps"] <= 15
    assert "iterations dropped" in step_problem(starved, GOAL)


@pytest.mark.processes
def test_a_step_sends_a_users_posts_with_their_json_bodies(tmp_path):
    bodies = collections.Counter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            sent = self.rfile.read(size).decode()
            bodies[(self.command, self.path, sent, self.headers.get("Content-Type"))] += 1
            self.send_response(201 if self.command == "POST" else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args):
            pass

    order = tmp_path / "order.json"
    order.write_text('{"item": 3}')
    requests = [["/", 1, "GET", None], ["/api/orders", 2, "POST", str(order)]]
    with serving(Handler) as base_url:
        step = run_step(base_url, 60, 2, 1, 20, tmp_path, "/:1,/api/orders:2",
                        requests=requests)
    posted = bodies[("POST", "/api/orders", '{"item": 3}', "application/json")]
    got = bodies[("GET", "/", "", None)]
    assert step["failed_requests"] == 0 and posted + got == sum(bodies.values())
    # two POSTs for each GET, as weighed (each scenario, warm-up and measure, cycles alone)
    assert abs(posted - 2 * got) <= 6 and got >= 50


@pytest.mark.processes
def test_a_step_runs_a_users_k6_script_at_the_arrival_rate(tmp_path):
    seen: collections.Counter = collections.Counter()
    Handler = _counting(seen, lambda path: 0.0)  # noqa: N806
    mine = tmp_path / "mine.js"
    mine.write_text("import http from 'k6/http';\n"
                    "export const options = { vus: 1, iterations: 1 };\n"  # not used
                    "export default function () { http.get(`${__ENV.BASE_URL}/mine`); }\n")
    script = users_script(mine, tmp_path)
    with serving(Handler) as base_url:
        step = run_step(base_url, 60, 2, 1, 20, tmp_path, "/:1", script=script)
    assert set(seen) == {"/mine"} and seen["/mine"] >= 150  # 1 s warm-up and 2 s at 60/s
    assert 110 <= step["requests"] <= 125 and step["failed_requests"] == 0


def test_a_search_that_does_not_end_stops_at_its_step_limit():
    found = search(_server(10**9), GOAL, start_rps=1, max_steps=3)
    assert [s["offered_rps"] for s in found.steps] == [1, 2, 4]
    assert found.error == "not over after 3 steps" and found.capacity() == 4
    assert search(_server(300), GOAL, start_rps=100).error is None


def test_the_k6_command_line_of_a_step():
    assert step_argv("k6", Path("s.json"), "http://127.0.0.1:1", 250.5, 10, 3, 40) == [
        "k6", "run", "--no-color", "--quiet", "--address", "", "--summary-export", "s.json",
        "-e", "BASE_URL=http://127.0.0.1:1", "-e", "RATE=250.5", "-e", "DURATION=10s",
        "-e", "WARMUP=3s", "-e", "VUS=40", "-e", "MIX=/:2,/api:1", str(SCRIPT)]
    assert step_argv("k6", Path("s.json"), "u", 100, 10, 3, 40, mix="/a:1")[-2] == "MIX=/a:1"
    posted = step_argv("k6", Path("s.json"), "u", 100, 10, 3, 40, "/a:1",
                       [["/a", 1, "POST", "/b.json"]])
    assert posted[-2] == 'REQUESTS=[["/a",1,"POST","/b.json"]]' and posted[-4] == "MIX=/a:1"


def test_the_achieved_rate_is_rounded_to_hundredths_and_missing_counts_are_zero():
    summary = {"metrics": {
        "http_reqs": {"count": 1300},
        "http_reqs{scenario:measure}": {"count": 1000},
        "http_req_failed{scenario:measure}": {"value": 0},
        "http_req_duration{scenario:measure}": {"avg": 4.0, "med": 3.0, "p(95)": 7.5,
                                                "p(99)": 12.25},
    }}
    step = step_figures(summary, offered=333.0, duration_s=3)
    assert step["achieved_rps"] == 333.33
    assert step["failed_requests"] == 0 and step["dropped"] == 0


def test_next_rates_are_rounded_to_a_tenth_and_the_resolution_is_inclusive():
    state = Search(start_rps=25, resolution=0.05, max_rps=1000, steps=[{}], failing=25)
    assert state.next_rate() == 12.5  # halving down from a failing start
    state = Search(start_rps=100, resolution=0.05, max_rps=1000, steps=[{}], passing=100,
                   failing=133.3)
    assert state.next_rate() == 116.7
    state.failing = 105.0  # (105 - 100) / 100 is the resolution itself: over once
    assert state.next_rate() == 105.0  # its failure is confirmed first
    state.votes[105.0] = ["fail", "fail"]
    assert state.next_rate() == 100  # then the pass that is the answer
    state.votes[100] = ["pass", "pass"]
    assert state.next_rate() is None
    assert vus_for(1001, 100) == 151  # 150.15 in flight at the goal, rounded up


def _stalling(capacity: float, fails_first: set[float], behind_above: float = 10**9):
    """A server that keeps the goal up to `capacity`, except that the first step at each
    rate in `fails_first` stalls (p99 over the goal at the full rate); above
    `behind_above` it falls behind (achieves 70% of the rate)."""
    seen = collections.Counter()

    def measure(rate: float) -> dict:
        seen[rate] += 1
        if rate > behind_above:
            return _step(rate, p99=900.0, dropped=50, achieved=rate * 0.7)
        if rate in fails_first and seen[rate] == 1:
            return _step(rate, p99=500.0)
        return _step(rate, p99=30.0 if rate <= capacity else 500.0)
    return measure


def test_a_stall_at_one_step_does_not_cap_the_search():
    found = search(_stalling(1000, {200.0}), GOAL, start_rps=100)
    assert found.votes[200.0] == ["fail", "pass", "pass"]  # confirmed where it bounded
    assert [s["settled"] for s in found.steps if s["offered_rps"] == 200] == [None, None, True]
    assert 950 <= found.capacity() <= 1000


def test_only_the_failure_that_bounds_the_answer_is_confirmed():
    found = search(_server(300), GOAL, start_rps=100, resolution=0.05)
    assert found.votes[found.failing] == ["fail", "fail"]
    assert (found.failing - found.capacity()) / found.capacity() <= 0.05
    above = [rate for rate in found.votes if rate > found.failing]
    assert above and all(found.votes[rate] == ["fail"] for rate in above)


def test_a_rates_verdict_is_its_first_pass_or_the_majority_after_a_failure():
    state = Search(start_rps=100, resolution=0.05, max_rps=1000)
    cases = {1: ["pass"], 2: ["behind"], 3: ["fail"], 4: ["fail", "pass"],
             5: ["fail", "pass", "pass"], 6: ["fail", "pass", "fail"], 7: ["fail", "fail"],
             8: ["fail", "behind"], 9: ["pass", "fail", "fail"], 10: ["pass", "fail"],
             11: ["pass", "pass"], 12: ["pass", "behind"]}
    state.votes = {float(k): v for k, v in cases.items()}
    assert {k: state.verdict(float(k)) for k in cases} == {
        1: True, 2: False, 3: None, 4: None, 5: True, 6: False, 7: False, 8: False, 9: False,
        10: None, 11: True, 12: False}
    assert state.verdict(13.0) is None


def test_a_lucky_pass_that_fails_when_confirmed_moves_the_answer_down():
    lucky = {"seen": 0}

    def measure(rate: float) -> dict:
        if rate == 1000:  # passes its first step only
            lucky["seen"] += 1
            return _step(rate, p99=30.0 if lucky["seen"] == 1 else 500.0)
        return _step(rate, p99=30.0 if rate < 1000 else 500.0)

    found = search(measure, GOAL, start_rps=500, aim_after=lambda step: 1000.0)
    assert found.votes[1000.0] == ["pass", "fail", "fail"]
    assert 950 <= found.capacity() < 1000
    assert all(len(found.votes[rate]) >= 2 for rate in (found.capacity(), found.failing))


def test_only_a_step_far_behind_is_trusted_alone():
    state = Search(start_rps=100, resolution=0.05, max_rps=1000)
    state.record(_step(100, p99=900.0, dropped=5, achieved=80.0), "dropped")
    assert state.verdict(100) is None  # 80% achieved: a stall can do that
    state.record(_step(90, p99=900.0, dropped=5, achieved=71.9), "dropped")
    assert state.verdict(90) is False and state.failing == 90


def test_a_failure_that_passes_when_confirmed_lets_the_search_climb_on():
    state = Search(start_rps=100, resolution=0.05, max_rps=1000, aim=None)
    for rate, p99 in ((100, 30.0), (200, 500.0), (150, 30.0), (175, 30.0), (187.5, 30.0),
                      (193.8, 30.0), (200, 30.0)):
        assert state.next_rate() == rate
        state.record(_step(rate, p99=p99), step_problem(_step(rate, p99=p99), GOAL))
    assert state.next_rate() == 200  # one fail, one pass: a third step decides
    state.record(_step(200), None)
    assert (state.passing, state.failing) == (200, None)
    assert state.next_rate() == 400  # climbing again


def test_a_step_that_fell_behind_is_trusted_alone():
    found = search(_stalling(10**9, set(), behind_above=700), GOAL, start_rps=100)
    at_800 = [s for s in found.steps if s["offered_rps"] == 800]
    assert [(s["vote"], s["settled"]) for s in at_800] == [(1, False)]
    assert 665 <= found.capacity() <= 700




def test_after_a_pass_the_search_jumps_to_where_theory_points():
    found = search(_server(1234.5), GOAL, start_rps=100,
                   aim_after=lambda step: 1000.0)
    rates = [s["offered_rps"] for s in found.steps]
    assert rates[:3] == [100, 1000.0, 1150.0]  # the aim, then climbs of 15%
    assert found.capacity() <= 1234.5 < found.failing
    without = search(_server(1234.5), GOAL, start_rps=100)
    assert len(found.steps) < len(without.steps)


def test_the_aim_is_a_share_of_the_bound_the_measured_cost_allows():
    step = {"cpu_s_per_1000": 0.5}  # 0.5 ms a request: 2,000/s on one CPU
    assert aim(step, None, 1, 0.0) == 1600.0
    assert aim(step, 2, 1, 25.0) == round(2 / 0.0255 * 0.9, 1)  # the slots bind first
    assert aim({"cpu_s_per_1000": None}, 2, 1, 25.0) is None


def test_a_step_is_long_enough_for_its_percentile_up_to_a_limit():
    assert step_seconds(2000, 3) == 3
    assert step_seconds(200, 3) == MIN_REQUESTS // 200
    assert step_seconds(1, 3) == MAX_STEP_S
    assert step_seconds(333.4, 3) == 3 and step_seconds(333, 3) == 4
    assert step_seconds(20, 1, requests=10) == 1 and step_seconds(20, 1, requests=100) == 5


def test_a_blocking_servers_first_rate_is_near_its_slot_bound():
    assert first_rate(100, None, 25.0) == 100
    assert first_rate(100, 2, 25.0) == 64.0  # 2 slots / 25 ms = 80/s
    assert first_rate(100, 64, 25.0) == 100
    assert first_rate(100, 1, 10_000.0) == 1.0
    assert first_rate(100, 2, 0.0) == 100


def test_a_gap_that_rounding_cannot_split_ends_the_search():
    state = Search(start_rps=1, resolution=0.01, max_rps=1000, passing=1.0, failing=1.1)
    assert state.next_rate() == 1.1  # confirmed first
    state.votes[1.1] = ["fail", "fail"]
    state.votes[1.0] = ["pass", "pass"]
    assert state.next_rate() is None


@pytest.mark.parametrize("capacity", [1000.0, 1049.0, 700.0, 2600.0, 40.0])
def test_a_search_near_an_earlier_answer_starts_there_and_still_brackets_its_own(capacity):
    found = search(_server(capacity), GOAL, start_rps=50, resolution=0.05, near=1000.0,
                   aim_after=lambda step: 5000.0)
    assert found.steps[0]["offered_rps"] == 1000.0
    assert found.capacity() <= capacity < found.failing
    assert (found.failing - found.capacity()) / found.capacity() <= 0.05
    assert all(s["passed"] == (s["offered_rps"] <= capacity) for s in found.steps)
    assert max(s["offered_rps"] for s in found.steps) < 5000  # the aim is not used


def test_near_an_answer_that_holds_a_search_takes_four_steps():
    found = search(_server(1020.0), GOAL, start_rps=50, resolution=0.05, near=1000.0)
    # the pass, the failure just past the resolution and its confirmation, the pass again
    assert [s["offered_rps"] for s in found.steps] == [1000.0, 1050.0, 1050.0, 1000.0]
    assert found.capacity() == 1000.0


def test_near_an_answer_the_steps_up_and_down_double():
    up = search(_server(1500.0), GOAL, start_rps=50, resolution=0.05, near=1000.0)
    assert _rates(up)[:4] == [1000.0, 1050.0, 1155.0, 1386.0]
    down = search(_server(700.0), GOAL, start_rps=50, resolution=0.05, near=1000.0)
    assert _rates(down)[:4] == [1000.0, 900.0, 720.0, 432.0]


def test_near_an_answer_only_passes_above_it_widen_the_climb():
    # the first step at the earlier answer stalls, the rates below it pass, and once the
    # answer passes when confirmed the climb goes on from it by the resolution
    found = search(_stalling(1100, {1000.0}), GOAL, start_rps=50, resolution=0.05,
                   near=1000.0)
    rates = [s["offered_rps"] for s in found.steps]
    assert rates[:rates.index(1050.0)].count(1000.0) == 3
    assert 1050.0 <= found.capacity() <= 1100
