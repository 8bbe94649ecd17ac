"""The database's arithmetic and words: each model's pool, the rate a pool allows, the
waits the probe counts, and how records on PostgreSQL are told apart."""

import argparse

import pytest

from pyserverbench.cli.options import db_problem
from pyserverbench.matrix.stacks import STACKS
from pyserverbench.matrix.workloads import mean_calls, parse_mix
from pyserverbench.measure.capacity import past_pool, under
from pyserverbench.measure.database import (
    SHARED_POOL,
    pool_bound,
    pool_per_worker,
    pool_rule,
    pool_waits,
)
from pyserverbench.records import db_key
from pyserverbench.sitting.plan import plan_cells


@pytest.mark.parametrize(("stack", "threads", "expected"), [
    ("sync", None, 1), ("gthread", None, 1), ("gthread", 8, 8), ("granian-wsgi", None, 256),
    ("waitress", None, 2), ("stupid-async", None, 1), ("gevent", None, SHARED_POOL),
    ("uvicorn", None, SHARED_POOL), ("granian-asgi", None, SHARED_POOL),
    ("donkey-patched", None, None)])
def test_each_model_gets_its_users_usual_pool(stack, threads, expected):
    assert pool_per_worker(STACKS[stack], 2, threads, None) == expected


def test_a_pool_asked_for_replaces_the_default_except_where_there_is_no_pool():
    assert pool_per_worker(STACKS["uvicorn"], 2, None, 4) == 4
    assert pool_per_worker(STACKS["gthread"], 2, 8, 2) == 2
    assert pool_per_worker(STACKS["donkey-patched"], 2, None, 4) is None
    assert "per call" in pool_rule(STACKS["donkey-patched"])
    assert "thread" in pool_rule(STACKS["sync"])


def test_a_pool_allows_its_connections_over_the_time_each_request_holds_one():
    assert pool_bound(8, 25, 1) == 320.0
    assert pool_bound(8, 25, 1 / 3) == 960.0  # the study's mix: one request in three
    assert pool_bound(20, 25, 3) == pytest.approx(266.7)  # three calls each
    assert pool_bound(None, 25, 1) is None
    assert pool_bound(8, 0, 1) is None
    assert pool_bound(8, 25, 0) is None


def test_the_mean_calls_of_a_mix_weigh_each_request():
    assert mean_calls(parse_mix("/:2,/api:1")) == pytest.approx(1 / 3)
    assert mean_calls(parse_mix("/fanout?calls=3:1")) == 3
    assert mean_calls(parse_mix("/:1")) == 0


def test_a_capacity_past_the_pools_bound_is_a_bug_and_the_search_starts_under_it():
    assert past_pool(1000, 960) is None  # within the slack
    assert "above the 960/s" in past_pool(1100, 960)
    assert past_pool(None, 960) is None and past_pool(5000, None) is None
    assert under(2000, 960, 0.8) == 768.0
    assert under(500, 960, 0.8) == 500
    assert under(None, 960, 0.9) == 864.0
    assert under(700, None, 0.8) == 700


def test_pool_waits_are_the_counters_difference_over_every_worker():
    before = {1: {"pool_taken": 10, "pool_wait_ns": 5_000_000}}
    after = {1: {"pool_taken": 30, "pool_wait_ns": 45_000_000},
             2: {"pool_taken": 20, "pool_wait_ns": 10_000_000}}  # a worker seen only after
    assert pool_waits(before, after) == {"taken": 40, "wait_s": 0.05, "mean_wait_ms": 1.25}
    assert pool_waits({}, {1: {"requests": 3}}) == {"taken": 0, "wait_s": 0.0,
                                                    "mean_wait_ms": None}


def test_records_on_postgres_are_their_own_section_and_say_their_pool():
    assert db_key({}) == ""
    assert db_key({"db": {"kind": "fake"}}) == ""
    assert db_key({"db": {"kind": "postgres", "pool_asked": None}}) == (
        "PostgreSQL, each model's default pool")
    assert db_key({"db": {"kind": "postgres", "pool_asked": 4}}) == (
        "PostgreSQL, 4 connections per worker")
    assert db_key({"db": {"kind": "postgres", "pool_asked": 1}}) == (
        "PostgreSQL, 1 connection per worker")


def test_a_pool_on_the_fake_db_is_refused_in_one_line():
    assert db_problem(argparse.Namespace(db="fake", db_pool=4)) == (
        "argument --db-pool: applies to --db postgres only, not 'fake'")
    assert db_problem(argparse.Namespace(db="postgres", db_pool=4)) is None
    assert db_problem(argparse.Namespace(db="fake", db_pool=None)) is None


def test_the_database_plan_puts_each_stack_on_both_and_adds_the_pool_bound_cells():
    cells = plan_cells("database")
    assert len(cells) == 2 * len(STACKS) + 2
    assert {c.db_latency_ms for c in cells} == {25}
    fake = {c.stack for c in cells if c.options == ()}
    real = {c.stack for c in cells if c.options == ("--db", "postgres")}
    assert fake == real == set(STACKS)
    bound = [c for c in cells if "--db-pool" in c.options]
    assert {c.stack for c in bound} == {"uvicorn", "gevent"}
    assert len({c.section() for c in cells}) == 3


def test_a_setup_file_on_the_fake_db_is_refused_and_with_postgres_is_passed_on(tmp_path):
    from pyserverbench.measure.userapp import app_options_problem, build_parser, run_arguments

    setup = tmp_path / "setup.sql"
    setup.write_text("SELECT 1;\n")
    parser = build_parser(raising=True)
    args = parser.parse_args(["--wsgi", "shop.wsgi:app", "--db-setup", str(setup)])
    assert app_options_problem(args) == (
        "argument --db-setup: applies to --db postgres only, not 'fake'")
    args = parser.parse_args(["--wsgi", "shop.wsgi:app", "--db", "postgres",
                              "--db-setup", str(setup)])
    assert app_options_problem(args) is None
    argv = run_arguments(args, "gthread", "wsgi", "shop.wsgi:app")
    assert argv[argv.index("--db") + 1] == "postgres"
    assert argv[argv.index("--db-setup") + 1] == str(setup)
