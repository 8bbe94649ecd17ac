"""What a capacity step and search say beyond pass or fail: Little's law, theory's
bounds, the load side's CPU, and the search's options."""

import collections
import os

import pytest
from helpers import capacity_step as _step
from helpers import capacity_usage as _usage

from pyserverbench.harness.usage import cpu_busy, cpu_stolen
from pyserverbench.matrix.workloads import parse_mix
from pyserverbench.measure.capacity import (
    parse_args,
    result_line,
    search_facts,
    settings,
    step_line,
    verdict,
)
from pyserverbench.measure.search import Search, bounds, cpu_per_1000, little, load_busy


def test_a_mix_parses_into_paths_and_weights():
    assert parse_mix("/:2,/api:1") == [("/", 2), ("/api", 1)]


@pytest.mark.parametrize("text", ["", "/", "/:0", "/:101", "x:1", "/:1,", "/:a", "/:-1"])
def test_a_bad_mix_is_refused_naming_it_and_the_form(text):
    with pytest.raises(ValueError, match="is not a request mix.*like /:2,/api:1"):
        parse_mix(text)


def test_littles_law_flags_more_in_flight_than_virtual_users_unless_overloaded():
    ok = little({"achieved_rps": 100.0, "mean_ms": 190.0, "vus": 19, "dropped": 0}, None, 0)
    assert ok == {"in_flight": 19.0, "problems": []}
    bad = little({"achieved_rps": 100.0, "mean_ms": 200.0, "vus": 19, "dropped": 0}, None, 0)
    assert bad["in_flight"] == 20.0
    assert bad["problems"] == ["20.0 requests in flight on average, more than k6's 19 "
                               "virtual users"]
    overloaded = little({"achieved_rps": 100.0, "mean_ms": 200.0, "vus": 19, "dropped": 3},
                        None, 0)
    assert overloaded["problems"] == []  # not a steady state: the law does not apply


def test_littles_law_flags_a_blocking_server_faster_than_its_slots_allow():
    # 2 slots, each request holding one for 10 ms on average: at most 200/s
    step = {"achieved_rps": 203.0, "mean_ms": 1.0, "vus": 50, "dropped": 0}
    assert little(step, 2, 10.0)["problems"] == [
        "achieved 203.0/s, more than 2 requests at a time, each waiting 10 ms on average, "
        "allow (200.0/s)"]
    assert little({**step, "achieved_rps": 202.0}, 2, 10.0)["problems"] == []  # within 1%
    assert little(step, None, 10.0)["problems"] == []  # not blocking: no slot limit
    assert little(step, 2, 0.0)["problems"] == []  # no DB wait: no bound from it


def test_the_load_sides_cpu_share_adds_k6_the_harness_and_the_fake_db():
    usage = _usage(k6=3.0, harness=0.75, wall=7.5, db=1.0, window=5.0)
    assert load_busy(usage, 1) == 0.7  # 3/7.5 + 0.75/7.5 + 1/5
    assert load_busy(usage, 2) == 0.35
    assert load_busy(_usage(wall=0.0), 1) == 0.0
    assert load_busy(_usage(k6=1.5, harness=0.0, wall=7.5, db=1.0, window=0.0), 1) == 0.2


def test_server_cpu_per_thousand_requests_over_the_sampled_window():
    assert cpu_per_1000(_usage(server=2.5, window=5.0), 1000.0) == 0.5
    assert cpu_per_1000(_usage(window=0.0), 1000.0) is None
    assert cpu_per_1000(_usage(), 0.0) is None


def test_theorys_bounds_for_a_blocking_and_a_non_blocking_server():
    # 1 CPU, 0.5 ms CPU a request: 2,000/s; 2 slots held 8 + 0.5 ms each: 235.3/s
    assert bounds(2, 1, 8.0, 0.5) == {"cpu_rps": 2000.0, "slots_rps": 235.3, "rps": 235.3}
    assert bounds(None, 1, 8.0, 0.5) == {"cpu_rps": 2000.0, "slots_rps": None, "rps": 2000.0}
    assert bounds(2, 1, 8.0, None) == {"cpu_rps": None, "slots_rps": 250.0, "rps": 250.0}
    assert bounds(None, 2, 0.0, None) == {"cpu_rps": None, "slots_rps": None, "rps": None}
    assert bounds(4, 2, 0.0, 0.5)["rps"] == 4000.0  # the CPUs, not the slots, bind


def test_cpu_busy_counts_everything_but_idle_and_io_wait_on_the_chosen_cpus():
    Times = collections.namedtuple("Times", "user system idle iowait irq softirq guest")
    before = [Times(0, 0, 0, 0, 0, 0, 0), Times(0, 0, 0, 0, 0, 0, 0)]
    after = [Times(3, 1, 4, 1, 0.5, 0.5, 2), Times(0, 0, 10, 0, 0, 0, 0)]
    assert cpu_busy(before, after, [0]) == 0.5  # 5 busy of 10; guest is inside user
    assert cpu_busy(before, after, [1]) == 0.0
    assert cpu_busy(before, after, [0, 1]) == 0.25
    assert cpu_busy(before, before, [0]) == 0.0


def test_cpu_stolen_is_the_share_of_the_chosen_cpus_time_given_to_another_guest():
    Times = collections.namedtuple("Times", "user system idle steal guest")
    before = [Times(0, 0, 0, 0, 0), Times(0, 0, 0, 0, 0)]
    after = [Times(6, 1, 2, 1, 3), Times(1, 0, 9, 0, 0)]
    assert cpu_stolen(before, after, [0]) == 0.1  # 1 of 10; guest is inside user
    assert cpu_stolen(before, after, [1]) == 0.0
    assert cpu_stolen(before, after, [0, 1]) == 0.05
    assert cpu_stolen(before, before, [0]) == 0.0
    NoSteal = collections.namedtuple("NoSteal", "user idle")
    assert cpu_stolen([NoSteal(0, 0)], [NoSteal(1, 1)], [0]) == 0.0


def test_one_search_per_latency_with_the_default_goal_and_placement(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    configs, repeat, label = parse_args(["--stack", "sync", "--db-latency", "0,100",
                                         "--repeat", "3", "--results-dir", str(tmp_path),
                                         "--progress-label", "[1 of 8]"])
    assert (repeat, label) == (3, "[1 of 8]")
    assert [(c.run.db_latency_ms, c.goal_ms) for c in configs] == [(0, 50.0), (100, 150.0)]
    first = configs[0]
    assert (first.run.duration_s, first.warmup_s, first.resolution, first.start_rps,
            first.mix) == (2, 1, 0.05, 500.0, "/:2,/api:1")
    assert first.run.server_cpus == frozenset({0})  # the lower half of CPUs 0 and 1
    assert first.near_rps is None and settings(first)["near_rps"] is None
    later, _, _ = parse_args(["--stack", "sync", "--near", "812.5"])
    assert later[0].near_rps == 812.5 and settings(later[0])["near_rps"] == 812.5
    shared, _, _ = parse_args(["--stack", "sync", "--shared-cpus", "--goal-ms", "30"])
    assert shared[0].run.server_cpus is None and shared[0].goal_ms == 30.0


def test_a_search_is_summed_up_from_its_deciding_steps():
    configs, _, _ = parse_args(["--stack", "sync", "--shared-cpus"])
    found = Search(50, 0.05, 20_000, passing=200.0, failing=210.0, steps=[
        _step(100, cost=0.9), _step(200, cost=0.6), _step(400, passed=False, load=0.95),
        _step(210, passed=False, load=0.5, problems=["odd"])])
    facts = search_facts(configs[0], found, slots=2, server_cpus=1)
    assert facts["rps"] == 200.0 and facts["failing_rps"] == 210.0
    assert facts["cpu_s_per_1000"] == 0.6  # the capacity step's cost
    assert facts["lower_bound"] is False  # the busy 400/s step did not decide
    assert facts["inconsistent_steps"] == 1 and facts["at_max"] is False
    assert facts["db_wait_ms"] == pytest.approx(25 / 3, abs=0.001)
    assert facts["bounds"]["slots_rps"] == round(2 / (25 / 3000 + 0.0006), 1)
    assert facts["peak_rss_bytes"] == 50 * 2**20
    assert {k: facts[k] for k in settings(configs[0]) if k != "steps"} == {
        k: v for k, v in settings(configs[0]).items() if k != "steps"}
    found.steps[-1]["load_busy"] = 0.9
    assert search_facts(configs[0], found, 2, 1)["lower_bound"] is True
    capped, _, _ = parse_args(["--stack", "sync", "--shared-cpus", "--max-rps", "200"])
    at_max = Search(50, 0.05, 200, passing=200.0, steps=[_step(200)])
    assert search_facts(capped[0], at_max, 2, 1)["at_max"] is True


def test_a_search_counts_only_when_it_finished_and_served_as_declared():
    clean = {"contradictions": []}
    assert verdict(Search(50, 0.05, 100, passing=50.0, failing=60.0), clean) is None
    assert verdict(Search(50, 0.05, 100, error="not over after 40 steps"), clean) == (
        "the search did not finish: not over after 40 steps")
    assert verdict(Search(50, 0.05, 100, failing=1.2), clean) == "no rate passed, down to 1.2/s"
    assert verdict(Search(50, 0.05, 100, passing=50.0),
                   {"contradictions": ["a", "b"]}) == (
        "what served contradicts the stack: a; b")


def test_progress_lines_say_the_rate_the_latency_and_the_outcome(tmp_path):
    line = step_line("sync x2, step 3", _step(400.0, achieved=398.5, p99=12.34))
    assert line == ("sync x2, step 3: 400.0/s offered, 398.5/s achieved, p99 12.3 ms, "
                    "CPUs busy: server 90%, load 30%: pass")
    failed = step_line("s", _step(1600.0, passed=False))
    assert failed.endswith(": fail: p99 over")
    record = {"ok": True, "capacity": {"rps": 1234.5, "goal_ms": 75.0, "lower_bound": True,
                                       "steps": [1, 2, 3]}}
    assert result_line("p", record, tmp_path / "r.json").startswith(
        "p: capacity 1,234.5/s at p99 <= 75 ms (a lower bound: the load side was busy), "
        "3 steps (record: ")
    assert "search failed: boom" in result_line("p", {"ok": False, "error": "boom"},
                                                tmp_path / "r.json")


