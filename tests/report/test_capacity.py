"""The capacity part of the report: tables per latency, charts, and their stability."""

import json

import pytest
from helpers import DATA, tables
from helpers import capacity_record as _record

from pyserverbench.records import is_capacity, read_records
from pyserverbench.report.main import main, write_report
from pyserverbench.report.render import all_charts, render


def _map():
    records = []
    for latency in (0, 25):
        for number, rps in enumerate((1000.0, 1100.0, 1050.0), start=1):
            records.append(_record("uvicorn", latency, rps - latency, number, bound=1500.0))
        records.append(_record("sync", latency, 200.0 + latency, bound=210.0))
    return records


def _table(text: str, heading: str) -> list[dict[str, str]]:
    """The main rows under heading, each merged with its detail row."""
    section = text.split(heading)[1].split("###")[0]
    main, proof = tables(section)
    return [{**b, **a} for a, b in zip(main, proof, strict=True)]


def _cells(row: dict[str, str], *names: str) -> list[str]:
    return [row[name] for name in names]


def test_each_latency_gets_a_table_ranked_by_median_capacity_with_its_spread_and_bound():
    text = render(_map())
    assert "## Capacity at a latency goal (open loop)" in text
    assert "### Capacity, 2 workers, Python 3.13.0" in text
    assert "Goal: p99 within DB latency + 50 ms; mix `/:2,/api:1`; steps of 5 s" in text
    rows = _table(text, "### 0 ms DB latency: goal p99 ≤ 50 ms")
    assert [_cells(r, "Group", "Stack") for r in rows] == [["1", "uvicorn"], ["—", "sync"]]
    uvicorn = rows[0]  # one search: sync is unranked
    # the interval runs to the highest failing rate (1,100 x 1.04); 50 of 1,050 is 4.8%
    assert _cells(uvicorn, "Searches", "Capacity (req/s)", "Interval", "Repeats",
                  "Bound (req/s)", "Of Bound") == [
        "3", "1,050", "1,000–1,144 (75%)", "±5%", "1,500", "70%"]
    assert _cells(uvicorn, "CPU ms/req", "Peak MB") == ["0.50", "100"]
    assert _cells(rows[1], "Searches", "Capacity (req/s)", "Interval", "Repeats") == [
        "1", "200", "one run", "—"]
    assert [r["Capacity (req/s)"] for r in _table(
        text, "### 25 ms DB latency: goal p99 ≤ 75 ms")] == ["1,025", "225"]


def _sped(record: dict, median_ms: float) -> dict:
    record["capacity"]["speed"] = {"median_ms": median_ms}
    return record


def test_repeats_over_the_goal_say_how_far_the_machines_speed_moved_between_them():
    moved = [_sped(_record("uvicorn", 25, rps, n), ms)
             for n, (rps, ms) in enumerate(((1000.0, 1.45), (1200.0, 1.5), (900.0, 2.5)), 1)]
    [row] = _table(render(moved), "### 25 ms DB latency")
    assert row["Notes"] == ("repeats over ±5%, and the server CPU's speed moved 1.72-fold "
                            "between them (its fixed task 1.45–2.50 ms)")
    steady = [_sped(_record("uvicorn", 25, rps, n), ms)
              for n, (rps, ms) in enumerate(((1000.0, 1.45), (1200.0, 1.5), (900.0, 1.52)), 1)]
    [row] = _table(render(steady), "### 25 ms DB latency")
    assert row["Notes"] == ("repeats over ±5%, with the server CPU's speed steady (within "
                            "1.05-fold)")


def test_a_cell_whose_p99_is_near_the_goal_under_light_load_is_said_to_have_no_knee():
    flat = [_record("donkey-patched", 25, 50.0, n) for n in (1, 2, 3)]
    for record in flat:
        record["capacity"]["steps"][0]["p99_ms"] = 0.9 * 75  # at half its capacity
    [row] = _table(render(flat), "### 25 ms DB latency")
    assert row["Notes"] == ("p99 already 90% of the goal at 80% of its capacity or less: the "
                            "goal lies in its latency tail, not at a knee, so the capacity is "
                            "loosely set")
    knee = [_record("uvicorn", 25, 1000.0, n) for n in (1, 2, 3)]  # 5 ms at half
    [row] = _table(render(knee), "### 25 ms DB latency")
    assert "latency tail" not in row["Notes"]


def test_notes_flag_lower_bounds_little_and_noise_and_a_failed_search_shows_no_number():
    records = [_record("uvicorn", 25, 1000.0, 1, lower=True, odd=2),
               _record("uvicorn", 25, 1200.0, 2),
               _record("gevent", 25, 0.0, ok=False, error="server exited | log")]
    text = render(records)
    rows = _table(text, "### 25 ms DB latency")
    assert rows[0]["Notes"] == ("repeats over ±5%; lower bound in 1 of 2: load side busy; 2 steps "
                           "inconsistent with Little's law")
    assert _cells(rows[1], "Group", "Stack", "Capacity (req/s)") == ["—", "gevent", "**failed**"]
    [line] = [line for line in text.splitlines() if "| gevent" in line and "failed" in line]
    assert line.rstrip(" |").endswith("| server exited \\| log")  # the pipe is escaped


def _placed(record: dict, cell: str, round_: int, order: int, aa: bool = False,
            rerun_of: int | None = None, disturbed: tuple[str, ...] = (),
            speed: float = 15.0) -> dict:
    record["sitting"] = {"id": "S1", "seed": 7, "round": round_, "rounds": 3, "order": order,
                         "cell": cell, "aa": aa, "rerun_of": rerun_of}
    record["machine"] = {"before": {}, "during": {}, "disturbed": list(disturbed),
                         "cpu_speed": {"task_ms": speed, "median_ms": speed,
                                       "wall_over_cpu": 1.0, "cpus": [0]}}
    return record


def test_a_sittings_table_has_tie_groups_a_noise_floor_and_leaves_out_what_was_rerun():
    records = [_placed(_record("uvicorn", 25, rps, n), "u", n, n * 10)
               for n, rps in enumerate((1000.0, 1020.0, 1010.0), start=1)]
    records.append(_placed(_record("uvicorn", 25, 1050.0, 9), "u", 1, 15, aa=True))
    records += [_placed(_record("gevent", 25, rps, n), "g", n, n * 10 + 1)
                for n, rps in enumerate((1015.0, 990.0, 1030.0), start=1)]
    records += [_placed(_record("sync", 25, rps, n), "s", n, n * 10 + 2)
                for n, rps in enumerate((200.0, 205.0), start=1)]
    # two more A/A pairs, a close one and a far one: the floor is their median
    records.append(_placed(_record("gevent", 25, 1000.0, 8), "g", 2, 25, aa=True))
    records.append(_placed(_record("sync", 25, 300.0, 7), "s", 1, 16, aa=True))
    # sync's third search was disturbed and run again; only the rerun counts
    records.append(_placed(_record("sync", 25, 900.0, 3), "s", 3, 32,
                           disturbed=("CPU steal 9.0% of the run's CPU time (limit 5%)",)))
    records.append(_placed(_record("sync", 25, 202.0, 4), "s", 3, 40, rerun_of=32, speed=17.0))
    text = render(records)
    rows = _table(text, "### 25 ms DB latency")
    assert [_cells(r, "Group", "Stack") for r in rows] == [
        ["1", "gevent"], ["1", "uvicorn"], ["2", "sync"]]
    assert _cells(rows[2], "Searches", "Capacity (req/s)") == ["3", "202"]  # with the rerun
    assert _cells(rows[1], "Searches", "Capacity (req/s)") == ["3", "1,010"]  # A/A left out
    section = text.split("### 25 ms DB latency")[1]
    assert ("Noise floor: 4.9%, the median gap of 3 A/A pairs (a stack measured twice in a "
            "round, half a round apart): gevent 1.0%, sync 40.0%, uvicorn 4.9%.") in section
    assert "Disturbed: 1 searches (run again once, later in the sitting): CPU steal" in section
    assert "15.0–17.0 ms over the searches (median 15.0 ms)" in section
    assert "sitting S1" in text  # the sitting names its section


def test_a_sittings_section_counts_the_steps_set_aside_for_cpu_steal():
    records = [_placed(_record("uvicorn", 25, rps, n), "u", n, n * 10)
               for n, rps in enumerate((1000.0, 1020.0, 1010.0), start=1)]
    judged = sum(len(r["capacity"]["steps"]) for r in records)
    section = render(records).split("### 25 ms DB latency")[1]
    assert "set aside" not in section  # none were
    stolen = {**records[0]["capacity"]["steps"][0], "set_aside": "CPU steal 8.0% ..."}
    records[0]["capacity"]["set_aside"] = [stolen, stolen]
    records[2]["capacity"]["set_aside"] = [stolen]
    section = render(records).split("### 25 ms DB latency")[1]
    assert (f"Steps set aside for CPU steal: 3 (in 2 of 3 searches; each rate run again), "
            f"beside {judged} judged steps.") in section


def test_a_sittings_section_states_how_far_the_cpus_speed_moved_while_steps_ran():
    records = [_placed(_record("uvicorn", 25, rps, n), "u", n, n * 10)
               for n, rps in enumerate((1150.0, 720.0, 1050.0), start=1)]
    for record, probed in zip(records, (1.4, 2.6, 1.5), strict=True):
        record["capacity"]["speed"] = {"median_ms": probed, "fastest_ms": probed,
                                       "slowest_ms": probed}
    section = render(records).split("### 25 ms DB latency")[1]
    assert "median per search): 1.40–2.60 ms, 1.86 times apart (median 1.50 ms)" in section
    del records[1]["capacity"]["speed"]
    records[2]["capacity"]["speed"] = None
    assert "while the steps ran" not in render(records)  # one probed search says nothing


def test_a_section_of_searches_made_before_steps_were_confirmed_says_so():
    old = render(_map())
    assert "Searched before steps were confirmed: one step decided each rate" in old
    records = _map()
    for record in records:
        for number, step in enumerate(record["capacity"]["steps"], start=1):
            step["vote"] = 1
    assert "Searched before steps were confirmed" not in render(records)


def test_searches_set_up_differently_or_on_another_python_get_their_own_sections():
    records = [_record("uvicorn", 0, 1000.0), _record("uvicorn", 0, 900.0, 2, step_s=8),
               _record("uvicorn", 0, 800.0, 3, python="3.12.1"),
               _record("uvicorn", 0, 700.0, 4, goal=30.0)]
    text = render(records)
    assert text.count("### Capacity, 2 workers, Python 3.13.0") == 3
    assert text.count("### Capacity, 2 workers, Python 3.12.1") == 1
    assert text.index("Python 3.12.1") < text.index("Python 3.13.0")


def test_capacity_records_leave_the_closed_loop_tables_alone(tmp_path):
    closed = json.loads(
        (DATA / "runs" / "a-uvicorn.json")
        .read_text())
    from pyserverbench.report.render import sections

    alone = [text for members, text in sections([closed]) if members]
    assert [text for members, text in sections([closed, *_map()])
            if members and not is_capacity(members[0])] == alone
    assert "No records yet" not in render(_map())  # only capacity records


def test_charts_are_written_for_each_section_linked_from_the_report_and_stale_ones_go(
        tmp_path):
    records = _map()
    stale = tmp_path / "capacity-0000000000.svg"
    stale.write_text("old")
    keep = tmp_path / "other.svg"
    keep.write_text("not ours")
    written = write_report(tmp_path / "R.md", "", "", all_charts(records))
    names = sorted(p.name for p in written)
    assert len(names) == 3 and sum(n.startswith("p99-") for n in names) == 2
    assert not stale.exists() and keep.exists()
    text = render(records)
    for name in names:
        assert f"]({name})" in text
    svg = (tmp_path / names[0]).read_text()
    assert svg.startswith("<?xml") and "uvicorn" in svg and "sync" in svg
    first = {p.name: p.read_bytes() for p in written}
    again = write_report(tmp_path / "R.md", "", "", all_charts(list(reversed(records))))
    assert {p.name: p.read_bytes() for p in again} == first  # same records, same bytes


@pytest.mark.parametrize("bad", ["rps", "bounds"])
def test_report_main_skips_a_broken_capacity_record_and_renders_the_rest(tmp_path, bad,
                                                                         capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    for record in _map():
        (runs / f"{record['id']}.json").write_text(json.dumps(record))
    broken = _record("gevent", 0, 10.0, 9)
    del broken["capacity"][bad]
    (runs / "broken.json").write_text(json.dumps(broken))
    assert main(["--runs-dir", str(runs), "--output", str(tmp_path / "README.md")]) == 0
    out = capsys.readouterr()
    assert "8 records, 1 skipped, 3 charts" in out.out
    assert "broken.json: ok capacity record without a complete search" in out.err
    assert len(list(tmp_path.glob("*.svg"))) == 3
    records, _ = read_records(runs)
    assert (tmp_path / "README.md").read_text() == render(records)


def _auto(stack: str, workers: int, rps: float, number: int) -> dict:
    record = _record(stack, 25, rps, number)
    record["workers"] = workers
    record["workers_rule"] = {"asked": "auto", "rule": "one per CPU", "source": "s",
                              "server_cpus": 1}
    return record


def test_stacks_run_with_workers_auto_share_one_section_and_show_their_counts():
    records = [_auto("sync", 3, 300, 1), _auto("uvicorn", 1, 900, 1),
               _record("uvicorn", 25, 800, 2)]
    text = render(records)
    assert "workers by each stack's rule (auto)" in text
    rows = [row for table in tables(text) for row in table if "Capacity (req/s)" in row]
    stacks = {row["Stack"] for row in rows}
    assert {"sync (3 workers)", "uvicorn (1 worker)", "uvicorn"} <= stacks
    auto_table = next(t for t in tables(text) if any(r.get("Stack") == "sync (3 workers)"
                                                     for r in t))
    assert {row["Stack"] for row in auto_table} == {"sync (3 workers)", "uvicorn (1 worker)"}
