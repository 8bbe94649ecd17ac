"""The answer table: per kind of app, the leading tie group of one section, from records
whose answer is known."""

from __future__ import annotations

from helpers import capacity_record, closed_record

from pyserverbench.report.answer import NOT_SETTLED, answer_table, answers
from pyserverbench.report.render import render


def _cell(stack, latency, rates, ok=True, python="3.13.0", **changes):
    made = []
    for number, rps in enumerate(rates, start=1):
        record = capacity_record(stack, latency, rps, number=number, ok=ok, bound=rps * 1.25,
                                 python=python, error=None if ok else "server died")
        for key, value in changes.items():
            record["capacity"][key] = value
        made.append(record)
    return made


def _tied_section(latency=25):
    return [*_cell("uvicorn", latency, [1000, 1020, 1040]),
            *_cell("gevent", latency, [990, 1010, 1030]),
            *_cell("sync", latency, [200, 205, 210])]


def test_a_tie_names_both_leaders_in_estimate_order_and_never_the_stack_below():
    (answer,) = answers(_tied_section())
    assert answer.kind == "one 25 ms DB call in 1 of 3 requests"
    assert answer.leaders == "`uvicorn`, `gevent`"
    assert "sync" not in answer.leaders + answer.left_out
    # the server has one core of its own (PLACED): per core is the capacity itself
    assert answer.rate == "1,010–1,020"
    assert answer.cpu_ms == "0.50"
    assert answer.memory == "100"
    assert answer.bound.startswith("Bound by the server's CPU: 0.50 CPU ms a request allow")
    assert "they reach 80% of it" in answer.bound
    assert "server on 1 core of its own; 3 searches per stack" in answer.measured


def test_a_clear_gap_gives_a_leading_group_of_one():
    records = [*_cell("uvicorn", 25, [1500, 1520, 1540]), *_cell("gevent", 25, [990, 1010, 1030])]
    assert answers(records)[0].leaders == "`uvicorn`"


def test_a_failed_stack_is_left_out_and_named():
    records = [*_tied_section(), *_cell("granian-wsgi", 25, [0], ok=False)]
    (answer,) = answers(records)
    assert answer.leaders == "`uvicorn`, `gevent`"
    assert answer.left_out == "failed: `granian-wsgi`"


def test_a_section_of_one_stack_answers_with_it():
    (answer,) = answers(_cell("sync", 100, [58, 59, 58]))
    assert answer.leaders == "`sync`"
    assert answer.rate == "58"


def test_an_unranked_stack_above_every_leader_leaves_the_answer_unsettled():
    records = [*_tied_section(), *_cell("granian-wsgi", 25, [3000, 3100])]
    (answer,) = answers(records)
    assert answer.leaders == NOT_SETTLED
    assert answer.rate == "—"
    assert "`granian-wsgi` (3,050/s, 2 runs)" in answer.left_out


def test_an_unranked_stack_that_may_belong_is_named_beside_the_leaders():
    records = [*_tied_section(), *_cell("hypercorn", 25, [1000, 1030])]
    (answer,) = answers(records)
    assert answer.leaders == "`uvicorn`, `gevent`"
    assert answer.left_out == "too few repeats to rank: `hypercorn` (1,015/s, 2 runs)"


def test_slots_that_bind_first_are_named_as_the_bound():
    records = _cell("sync", 25, [210, 212, 214], slots=2, db_wait_ms=8.333)
    for record in records:
        record["capacity"]["bounds"] = {"cpu_rps": 2000.0, "slots_rps": 220.0, "rps": 220.0}
    (answer,) = answers(records)
    assert answer.bound == ("Bound by workers × threads held through the DB wait: 2 slots, "
                            "each held 8.8 ms a request, allow 220/s, and they reach 96% of "
                            "it.")


def test_the_section_with_most_stacks_answers_and_says_where_it_was_measured():
    records = [*_tied_section(), *_cell("uvicorn", 25, [5000, 5000, 5000], python="3.12.1")]
    (answer,) = answers(records)
    assert answer.leaders == "`uvicorn`, `gevent`"
    assert answer.measured.startswith("Python 3.13.0, 2 workers")


def test_kinds_run_from_cpu_only_to_one_call_by_latency():
    records = [*_tied_section(100), *_cell("sync", 0, [900, 910, 920]), *_tied_section(5)]
    kinds = [a.kind for a in answers(records)]
    assert kinds == ["CPU only (1 in 3 requests makes a DB call that takes 0 ms)",
                     "one 5 ms DB call in 1 of 3 requests",
                     "one 100 ms DB call in 1 of 3 requests"]


def test_a_closed_loop_kind_says_when_the_scenario_bounds_its_leaders():
    runs = [closed_record(f"a{i}", "uvicorn", requests=13700 + i * 10) for i in range(3)]
    runs += [closed_record(f"b{i}", "sync", requests=7400 + i * 10) for i in range(3)]
    (answer,) = answers(runs)
    assert answer.leaders == "`uvicorn`"
    assert answer.rate.endswith("(closed loop)")
    assert answer.bound.startswith("Bound by the scenario: 10 users in a closed loop")


def test_the_report_opens_with_the_answer_and_nothing_measured_gives_no_table():
    text = render(_tied_section())
    assert text.index("## The answer") < text.index("## Capacity at a latency goal")
    assert "| one 25 ms DB call in 1 of 3 requests | `uvicorn`, `gevent` |" in text
    assert answer_table([]) == ""


def test_a_session_is_answered_over_the_sections_it_added_to_and_no_other():
    from pyserverbench.report.render import answer_since

    old = _cell("sync", 100, [58, 59, 58])
    new = _tied_section()
    for record in new[:1]:
        record["started_at"] = "2026-11-25T10:00:00+00:00"
    text = answer_since(old + new, "2026-11-25T00:00:00+00:00")
    assert "`uvicorn`, `gevent`" in text  # its section's earlier searches count too
    assert "100 ms" not in text
    assert answer_since(old + new, "2026-11-26T00:00:00+00:00") == ""


def test_a_section_where_every_search_failed_names_the_failures():
    (answer,) = answers(_cell("sync", 25, [0, 0, 0], ok=False))
    assert answer.leaders == "none: every run failed"
    assert answer.left_out == "failed: `sync`"
    assert answer.measured.endswith("no searches finished")


def test_a_closed_loop_stack_left_out_is_named_with_its_rate_not_its_count():
    runs = [closed_record(f"a{i}", "uvicorn", requests=6000 + i * 10) for i in range(3)]
    runs.append(closed_record("b0", "gevent", requests=13800))  # one run: unranked, above
    (answer,) = answers(runs)
    assert answer.leaders == NOT_SETTLED
    assert answer.left_out == "too few repeats to rank: `gevent` (230/s, 1 run)"  # in 60 s
