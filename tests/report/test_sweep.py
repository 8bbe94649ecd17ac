"""The sweep's part of the report: each stack's configurations ranked within the stack,
the cheapest of its leading group chosen, what it holds, and its chart."""

import pytest
from helpers import capacity_record, tables, user_app

from pyserverbench.report import sweep
from pyserverbench.report.charts import sweep_chart
from pyserverbench.report.html import render_html
from pyserverbench.report.render import all_charts, render

SITTING = "20261203T030447Z-sweep-7"


def _config(stack, workers, threads, rps, number, cpu_bound=2000.0, ok=True, aa=False):
    """A sweep search: `workers` × `threads` of `stack`, 30 MB per worker process."""
    record = capacity_record(stack, 25, rps, number, ok=ok, error=None if ok else "boom")
    record["id"] = f"2026-{stack}-{workers}x{threads}-{number}{'-aa' if aa else ''}"
    record["workers"], record["threads"] = workers, threads
    record["sitting"] = {"id": SITTING, "plan": "sweep", "seed": 7, "round": number,
                         "rounds": 3, "order": number, "aa": aa,
                         "cell": f"capacity {stack} x{workers} 25ms --threads {threads}"}
    if ok:
        slots = workers * (threads or 1) if stack in ("sync", "gthread") else None
        held = 0.0265
        slots_rps = slots / held if slots else None
        record["capacity"].update(
            peak_rss_bytes=30 * workers * 2**20, slots=slots,
            bounds={"rps": min(x for x in (cpu_bound, slots_rps) if x), "cpu_rps": cpu_bound,
                    "slots_rps": slots_rps})
    return record


def _three(stack, workers, threads, rates, **changes):
    return [_config(stack, workers, threads, rate, n, **changes)
            for n, rate in enumerate(rates, start=1)]


def _gthread():
    return [*_three("gthread", 1, 1, (36, 37, 37)),
            *_three("gthread", 2, 4, (290, 300, 305)),
            *_three("gthread", 5, 16, (300, 310, 315)),
            *_three("gthread", 1, 16, (250, 255, 260))]


def test_a_sweep_is_known_by_its_sitting_and_kept_apart():
    records = [*_gthread(), capacity_record("uvicorn", 25, 900)]
    others, sweeps = sweep.split(records)
    assert [r["stack"] for r in others] == ["uvicorn"] and len(sweeps) == 12


@pytest.mark.parametrize(("stack", "workers", "threads", "name"), [
    ("gthread", 3, 4, "3 × 4"), ("sync", 2, None, "2 × 1"), ("waitress", 4, 4, "1 × 4")])
def test_a_configuration_is_named_workers_by_threads(stack, workers, threads, name):
    record = _config(stack, workers, threads, 100, 1)
    assert sweep.config_name(record) == name


def test_the_database_connections_a_configuration_can_hold():
    assert sweep.db_connections(_config("gthread", 3, 4, 100, 1)) == 12
    assert sweep.db_connections(_config("sync", 5, None, 100, 1)) == 5
    # a non-blocking stack: each process's httpx pool
    assert sweep.db_connections(_config("gevent", 2, None, 100, 1)) == 200


def test_the_cheapest_configuration_of_the_leading_group_is_chosen():
    ranked = sweep.stack_ranking(_gthread())
    assert ranked.groups[0] == ["5 × 16", "2 × 4"]  # tied: intervals overlap
    assert sweep.cheapest(ranked) == "2 × 4"  # 60 MB against 150 MB
    choice = sweep.stack_answer("gthread", _gthread())
    assert choice.row[:6] == ["gthread", "2 × 4", "300", "290–317 (75%)", "60", "8"]
    assert choice.row[6] == "slots (8): 302/s"
    assert choice.row[8] == "5 × 16" and choice.row[7].startswith("slot-bound: 8 slots")


def test_a_configuration_measured_too_few_times_is_not_chosen():
    records = [*_three("sync", 1, None, (36, 37, 37)), _config("sync", 5, None, 180, 1)]
    ranked = sweep.stack_ranking(records)
    assert sweep.cheapest(ranked) == "1 × 1" and ranked.unranked == ["5 × 1"]
    unsettled = sweep.stack_answer("sync", [_config("sync", 5, None, 180, 1)])
    assert unsettled.config is None and unsettled.row[1].startswith("not settled")
    failed = sweep.stack_answer("sync", [_config("sync", 5, None, 0, 1, ok=False)])
    assert failed.row[1] == "none: every search failed"


def test_the_report_answers_per_stack_and_shows_each_stacks_grid():
    records = [*_gthread(), *_three("gevent", 1, None, (700, 710, 690)),
               *_three("gevent", 3, None, (705, 700, 715)),
               capacity_record("uvicorn", 25, 900)]
    second = _config("gevent", 1, None, 770, 2, aa=True)  # gevent 1 x 1's A/A pair
    second["sitting"]["order"] = 20
    text = render([*records, second])
    deployments = text.index("## Deployments")
    # each stack states its own floor; the section states none of its own
    assert "Noise floor 8.1% (its A/A pair)." in text[deployments:]
    assert "- Noise floor:" not in text[deployments:]
    assert text.index("The answer") < deployments
    found = tables(text[deployments:])
    answer = {row["Stack"]: row for row in found[0]}
    assert answer["gthread"]["Run"] == "2 × 4" and answer["gevent"]["Run"] == "1 × 1"
    assert answer["gevent"]["DB conns"] == "100"
    assert answer["gevent"]["Also in its leading group"] == "3 × 1"
    gthread = next(t for t in found[1:] if any(r["Workers × threads"] == "**2 × 4**"
                                               for r in t))
    assert [r["Workers × threads"] for r in gthread] == [
        "5 × 16", "**2 × 4**", "1 × 16", "1 × 1"]
    assert [r["Group"] for r in gthread] == ["1", "1", "2", "3"]
    # the sweep's searches are not a capacity section of their own
    assert "workers by each" not in text and text.count("### Capacity, ") == 1


def test_the_sweep_chart_has_a_panel_per_stack_and_rings_the_choice():
    stacks = {"gthread": _gthread(), "gevent": _three("gevent", 1, None, (700, 710, 690))}
    svg = sweep_chart(stacks, "Sweep")
    assert svg is not None and "gthread" in svg and "gevent" in svg and "2 × 4" in svg
    assert sweep_chart({"sync": [_config("sync", 1, None, 0, 1, ok=False)]}, "x") is None
    charts = all_charts([*_gthread(), capacity_record("uvicorn", 25, 900)])
    assert sum(name.startswith("sweep-") for name in charts) == 1


def test_the_html_page_holds_the_sweep():
    records = [*_gthread(), capacity_record("uvicorn", 25, 900)]
    page = render_html(records, all_charts(records))
    assert "What to run, per stack" in page and "<strong>2 × 4</strong>" in page


def _users(stack, workers, threads, rates, busy):
    """A user app's sweep searches, the server's CPUs `busy` at each capacity."""
    records = _three(stack, workers, threads, rates, cpu_bound=267.0)
    for record in records:
        record["user_app"] = user_app("mysite", load="GET /api/order")
        record["sitting"]["plan"] = "advise"
        record["capacity"]["steps"][1]["usage"]["cpus_busy"]["server_cpus"] = busy
    return records


def test_a_users_app_is_bound_by_what_its_cpus_did_not_by_a_hold_time_it_cannot_know():
    sync = _users("sync", 1, None, (40, 41, 41), busy=0.23)
    cpu = _users("gthread", 1, 16, (225, 227, 230), busy=0.85)
    # the fixture's slot bound (1 slot over 26.5 ms: 38/s) is not a user app's to read
    assert sweep.bound_by(sync[0]) == "not the CPU (23% busy): slots (1) or your app's waits"
    assert sweep.scaling(sync[0]).startswith("slot-bound: more workers × threads raise it")
    assert sweep.bound_by(cpu[0]) == "CPU (85% busy): 267/s"
    assert sweep.scaling(cpu[0]).startswith("CPU-bound: N × the workers")
    gevent = _users("gevent", 1, None, (300, 301, 302), busy=0.5)
    assert sweep.bound_by(gevent[0]) == "not the CPU (50% busy): your app's waits"
    text = render([*sync, *cpu])
    rows = {row["Workers × threads"]: row for table in tables(text)
            for row in table if "Of Bound" in row}
    assert rows["**1 × 1**"]["Of Bound"] == "15%"  # 41 of the CPU's 267/s
    assert "- Your app: WSGI `mysite.wsgi:application`; load: GET /api/order" in text


def test_a_search_stopped_by_failed_requests_says_so_instead_of_a_bound():
    records = _users("gevent", 1, None, (90, 91, 92), busy=0.5)
    for record in records[:2]:
        record["capacity"]["steps"][2]["failed_requests"] = 1
    assert sweep.bound_by(records[0]) == "failed requests above it, not latency"
    assert sweep.scaling(records[0]).startswith("not known: requests fail above it")
    assert sweep.bound_by(records[2]) == "not the CPU (50% busy): your app's waits"
    [row] = [row for table in tables(render(records)) for row in table
             if "Notes" in row and "Workers × threads" in row]
    assert row["Notes"] == "stopped by failed requests, not latency, in 2 of 3"
