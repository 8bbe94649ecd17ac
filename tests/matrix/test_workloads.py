"""Workloads: what each sends, what it waits for, what a record keeps, bad options."""

import argparse

import pytest

from pyserverbench.cli.capacity_options import search_options_problem
from pyserverbench.cli.options import add_workload_options, load_options_problem
from pyserverbench.matrix.ceiling import ceiling, ceiling_facts
from pyserverbench.matrix.workloads import (
    STUDY_MIX,
    Workload,
    db_calls,
    db_waits,
    from_record,
    parse_mix,
    workload_from,
)


def _parse(*argv: str) -> Workload:
    parser = argparse.ArgumentParser()
    add_workload_options(parser)
    return workload_from(parser.parse_args(list(argv)))


def test_each_workload_sends_its_one_request_and_the_mix_keeps_the_studys():
    assert _parse().request() is None and _parse().mix() == STUDY_MIX
    assert _parse("--workload", "page").request() == "/page?rows=0"
    assert _parse("--workload", "page", "--page-rows", "200").mix() == "/page?rows=200:1"
    assert _parse("--workload", "api").mix() == "/api:1"
    assert _parse("--workload", "fanout").request() == "/fanout?calls=3"
    assert _parse("--workload", "fanout", "--fanout-calls", "5").mix() == "/fanout?calls=5:1"
    assert Workload().mix("/:1,/api:3") == "/:1,/api:3"  # --mix is the mix's own


def test_db_calls_and_waits_follow_each_apps_way_of_making_them():
    assert [db_calls(p) for p in ("/", "/page?rows=9", "/api", "/fanout?calls=4")] == [0, 0, 1, 4]
    assert db_waits(parse_mix(STUDY_MIX), "sync") == pytest.approx(1 / 3)
    fanout = parse_mix("/fanout?calls=3:1")
    assert db_waits(fanout, "sync") == 3 and db_waits(fanout, "blocking-async") == 3
    assert db_waits(fanout, "async") == 1 and db_waits(fanout, "asyncio.run-per-request") == 1
    assert db_waits(parse_mix("/page?rows=5:1"), "sync") == 0


def test_records_keep_the_workload_and_old_records_read_as_the_mix():
    fanout = Workload("fanout", fanout_calls=4)
    assert fanout.facts() == {"name": "fanout", "fanout_calls": 4}
    assert from_record({"workload": fanout.facts()}) == fanout
    assert from_record({"workload": Workload("page", page_rows=7).facts()}).label() == \
        "page (7 rows)"
    assert from_record({}) == Workload() and Workload().facts() == {"name": "mix"}


def test_the_closed_loop_ceiling_of_each_workload():
    assert ceiling(10, 60, 25) == pytest.approx(10 * 3 * 60 / 0.125)
    fanout = Workload("fanout")
    assert ceiling(10, 60, 25, fanout, "sync") == pytest.approx(10 * 60 / 0.075)
    assert ceiling(10, 60, 25, fanout, "async") == pytest.approx(10 * 60 / 0.025)
    assert ceiling(10, 60, 25, Workload("page"), "sync") is None
    assert ceiling_facts(100, 10, 60, 0, Workload("api"), "sync") == {
        "requests": None, "fraction": None, "bounded": False}


@pytest.mark.parametrize(("argv", "message"), [
    (["--workload", "crud"], "argument --workload: invalid choice: 'crud'"),
    (["--fanout-calls", "3"], "argument --fanout-calls: applies to --workload fanout only"),
    (["--workload", "api", "--page-rows", "10"], "argument --page-rows: applies to "
                                                 "--workload page only, not 'api'"),
    (["--workload", "fanout", "--fanout-calls", "0"], "argument --fanout-calls: "),
])
def test_bad_workload_options_are_one_line_errors(argv, message):
    problem = load_options_problem(argv, "sync")
    assert problem is not None and message in problem and "\n" not in problem
    assert message in search_options_problem("sync", argv)


def test_a_capacity_mix_applies_to_the_mix_workload_only():
    assert search_options_problem("sync", ["--mix", "/:1"]) is None
    assert search_options_problem("sync", ["--workload", "api", "--mix", "/:1"]) == (
        "argument --mix: applies to --workload mix only, not 'api'")


def test_a_capacity_search_sends_its_workloads_request_and_records_it():
    from pyserverbench.measure.capacity import parse_args, settings

    [config], _, _ = parse_args(["--stack", "sync", "--workload", "fanout"])
    assert config.mix == "/fanout?calls=3:1" and config.run.workload == Workload("fanout")
    [config], _, _ = parse_args(["--stack", "sync", "--mix", "/:1,/api:1"])
    assert settings(config)["mix"] == "/:1,/api:1" and config.run.workload == Workload()


def test_the_default_goal_allows_the_db_time_of_calls_made_in_turn():
    from helpers import HOST

    from pyserverbench.measure.capacity import parse_args
    from pyserverbench.measure.search import default_goal_ms
    from pyserverbench.records import CapacityKey
    from pyserverbench.report.capacity import goal_text

    assert default_goal_ms(25) == 75 and default_goal_ms(25, 3) == 125
    assert default_goal_ms(25, 0) == 50
    goals = {}
    for argv in ([], ["--workload", "fanout"], ["--workload", "page"], ["--workload", "api"]):
        [config], _, _ = parse_args(["--stack", "uvicorn", *argv])
        record = {"db_latency_ms": 25, "python": "3.13.0", "workers": 2, "host": HOST,
                  "capacity": {"goal_ms": config.goal_ms, "mix": config.mix, "step_s": 5,
                               "warmup_s": 2, "resolution": 0.05}}
        goals[config.mix] = (config.goal_ms, goal_text(CapacityKey.of(record)))
    assert goals == {STUDY_MIX: (75, "DB latency + 50 ms"),
                     "/fanout?calls=3:1": (125, "3 × DB latency + 50 ms"),
                     "/page?rows=0:1": (50, "50 ms"), "/api:1": (75, "DB latency + 50 ms")}


def test_the_waits_of_a_mix_add_over_all_its_paths_in_any_order():
    assert db_waits(parse_mix("/api:1,/:2"), "sync") == pytest.approx(1 / 3)
    assert db_waits(parse_mix("/fanout?calls=4:1,/api:1,/:2"), "sync") == pytest.approx(5 / 4)
    assert db_calls("/fanout") == 3  # no calls= means the default, as in the apps
    assert Workload("fanout", fanout_calls=4).label() == "fanout (4 calls)"
    assert Workload("api").label() == "api"


def test_capacity_titles_name_a_workload_or_a_mix_other_than_the_studys():
    from pyserverbench.report.render import _workload_words

    def record(workload: Workload, mix: str) -> dict:
        return {"workload": workload.facts(), "capacity": {"mix": mix}}

    assert _workload_words(record(Workload(), STUDY_MIX)) == ""
    assert _workload_words(record(Workload(), "/:1")) == ", mix /:1"
    fanout = Workload("fanout", fanout_calls=5)
    assert _workload_words(record(fanout, fanout.mix())) == ", workload fanout (5 calls)"
    assert _workload_words({"capacity": {"mix": STUDY_MIX}}) == ""  # an older record


@pytest.mark.parametrize(("argv", "value"), [
    (["--workload", "page", "--page-rows", "10000"], 10_000),
    (["--workload", "fanout", "--fanout-calls", "1"], 1),
    (["--workload", "fanout", "--fanout-calls", "50"], 50)])
def test_the_ends_of_each_dial_are_accepted(argv, value):
    workload = _parse(*argv)
    assert value in (workload.page_rows, workload.fanout_calls)


@pytest.mark.parametrize("argv", [["--workload", "page", "--page-rows", "10001"],
                                  ["--workload", "page", "--page-rows", "-1"],
                                  ["--workload", "fanout", "--fanout-calls", "51"]])
def test_past_the_ends_of_each_dial_is_refused(argv):
    assert load_options_problem(argv, "sync") is not None
