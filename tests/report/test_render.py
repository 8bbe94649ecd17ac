import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DATA, ROOT, tables

from pyserverbench.records import ClosedKey, is_capacity, read_records
from pyserverbench.report.main import main
from pyserverbench.report.render import render, sections
from pyserverbench.report.rows import fmt_ms


def scenarios(records: list[dict]) -> str:
    """The closed-loop sections of the report, without the answer, the capacity sections
    and the view across Pythons."""
    return "\n".join(text for members, text in sections(records)
                     if members and not is_capacity(members[0])
                     and "across Pythons" not in text[:400])


def main_rows(text: str) -> list[dict[str, str]]:
    """The rows of every main table in text (not the detail tables)."""
    return [row for table in tables(text) for row in table if "Group" in row]


def proof_rows(text: str) -> list[dict[str, str]]:
    """The rows of every detail table in text."""
    return [row for table in tables(text) for row in table if "Worker model" in row]


SECTION_312 = "2 workers, 25 ms DB latency, Python 3.12.1"

def test_report_matches_the_saved_expected_output():
    records, _ = read_records(DATA / "runs")
    assert render(records) == (DATA / "expected_report.md").read_text()


def test_bad_files_are_skipped_with_one_warning_each():
    records, warnings = read_records(DATA / "runs")
    assert len(records) == 9
    skipped = sorted(Path(w.split()[1].rstrip(":")).name for w in warnings)
    assert skipped == ["g-truncated.json", "h-empty.json", "i-old-format.json",
                       "j-missing-fields.json"]


def test_rendering_is_deterministic_whatever_the_record_order():
    records, _ = read_records(DATA / "runs")
    assert render(records) == render(list(reversed(records)))


def test_failed_runs_show_their_reason_and_no_numbers():
    records, _ = read_records(DATA / "runs")
    [line] = [line for line in scenarios(records).splitlines()
              if "gevent" in line and "failed" in line]
    assert "**failed**" in line
    assert "server exited with code -9" in line
    assert "worker \\| booted" in line  # a pipe in the reason does not break the table
    assert " ms " not in line and "µs" not in line


def test_rows_are_sorted_by_requests_handled():
    records, _ = read_records(DATA / "runs")
    section = scenarios(records).split(SECTION_312)[1].split("<a id=")[0]
    assert [row["Server"] for row in proof_rows(section)] == [
        "uvicorn", "gunicorn[gthread] (1 thread)", "gunicorn", "gunicorn[gevent]"]
    assert [row["Stack"] for row in main_rows(section)] == [
        "uvicorn", "gthread (1 thread)", "sync", "gevent"]


def test_no_records_renders_a_hint():
    assert "No records yet" in render([])


def test_durations_use_microseconds_below_one_millisecond():
    assert fmt_ms(0.00584) == "5.84 µs"
    assert fmt_ms(1.02) == "1.02 ms"


@pytest.mark.processes
def test_report_command_writes_the_file_and_warns_per_bad_file(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(DATA / "runs", runs)
    output = tmp_path / "README.md"
    done = subprocess.run([sys.executable, "-m", "pyserverbench", "report", "--runs-dir",
                           str(runs), "--output", str(output)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(done.stderr.strip().splitlines()) == 4
    first = output.read_bytes()
    assert first == (DATA / "expected_report.md").read_bytes()
    subprocess.run([sys.executable, "-m", "pyserverbench", "report", "--runs-dir", str(runs),
                    "--output", str(output)], cwd=ROOT, capture_output=True, timeout=60,
                   check=True)
    assert output.read_bytes() == first


def test_report_main_writes_the_file_and_names_each_skipped_one(tmp_path, capsys,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "README.md"
    assert main(["--runs-dir", str(DATA / "runs"), "--output", str(output)]) == 0
    assert output.read_text() == (DATA / "expected_report.md").read_text()
    captured = capsys.readouterr()
    assert captured.out == ("wrote README.md and index.html beside it: 9 records, 4 skipped, "
                            "0 charts\n")
    assert (tmp_path / "index.html").read_text().startswith("<!DOCTYPE html>")
    warnings = captured.err.splitlines()
    assert len(warnings) == 4 and all(w.startswith("warning: skipped ") for w in warnings)


def test_report_main_refuses_a_missing_runs_dir_in_one_line(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["--runs-dir", str(missing), "--output", str(tmp_path / "R.md")]) == 2
    assert capsys.readouterr().err == f"error: --runs-dir {missing} is not a directory\n"
    assert list(tmp_path.iterdir()) == []


def test_the_report_is_written_where_the_project_keeps_it(monkeypatch, tmp_path):
    from pyserverbench.report import main as report

    seen = {}
    monkeypatch.setattr(report, "read_records", lambda d: (seen.update(runs=d) or [], []))
    # with no records every chart would be stale: the real results/ must not be touched
    monkeypatch.setattr(report, "write_report",
                        lambda output, text, page, charts: seen.update(output=output) or [])
    assert main([]) == 0
    assert seen == {"output": ROOT / "results" / "README.md", "runs": ROOT / "results" / "runs"}


def test_report_main_names_itself_in_its_errors(capsys):
    with pytest.raises(SystemExit):
        main(["--bogus"])
    assert capsys.readouterr().err == (
        "python -m pyserverbench report: error: unrecognized arguments: --bogus\n")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "\nRender results/runs/*.json into Markdown.\n" in capsys.readouterr().out


def test_no_records_tell_how_to_make_some():
    assert render([]).endswith(
        "No records yet: run `nox` or `nox -s \"bench(server='gthread', workers=2)\"`.\n")


def _row(stack: str) -> tuple[dict[str, str], dict[str, str]]:
    """The main and the detail row of a stack in the 2-worker Python 3.12.1 section."""
    records, _ = read_records(DATA / "runs")
    section = scenarios(records).split(SECTION_312)[1].split("<a id=")[0]
    [main] = [row for row in main_rows(section) if row["Stack"].split()[0] == stack]
    [proof] = [row for row in proof_rows(section) if row["Stack"] == stack]
    return main, proof


def test_repeated_runs_make_one_row_with_median_and_spread():
    main, proof = _row("uvicorn")
    assert main["Group"] == "1"  # the leading tie group
    assert proof["Runs"] == "3"
    assert proof["Requests"] == "13,300"  # the median of 13,100, 13,300 and 13,524
    assert main["Req/s"] == "222"  # 13,300 in 60 s
    assert main["Interval (req/s)"] == "218–225 (75%)"  # lowest to highest of 3: 75%
    assert "bounded by the scenario" in main["Notes"]


def test_noisy_rows_uneven_splits_and_busy_clients_are_marked():
    sync = _row("sync")[0]["Notes"]
    assert "repeats up to 13% from the median" in sync  # 4,740 and 6,100 around 5,420
    assert "uneven split of requests over workers in 1 of 2 runs (0.80/0.20)" in sync
    assert "k6 used 0.66 of a core" in _row("uvicorn")[0]["Notes"]


def test_rows_without_usage_show_dashes_not_zeros():
    main, proof = _row("gthread")
    assert main["CPU ms/req"] == "—"
    assert [proof["Server CPU s"], proof["Peak MB"]] == ["—", "—"]


def test_runs_with_new_connections_per_iteration_get_their_own_section():
    records, _ = read_records(DATA / "runs")
    changed = [dict(r, connections="per-iteration", id=f"{r['id']}-pi") for r in records]
    text = scenarios(records + changed)
    assert text.count("new connections every iteration") == len(
        {(r["python"], r["workers"]) for r in records})


def _ok_records() -> list[dict]:
    records, _ = read_records(DATA / "runs")
    return [r for r in records if r["ok"] and r["python"] == "3.12.1" and r["workers"] == 2]


def _headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("## ")]


@pytest.mark.parametrize(("change", "named"), [
    (lambda r: r["host"].update(id="0123456789ab"), "host 0123456789ab"),
    (lambda r: r["host"].update(kernel="5.10"), "kernel 5.10"),
    (lambda r: r.update(placement={"server_cpus": [0], "load_cpus": [1], "shared": False}),
     "placement server on CPUs [0]"),
    (lambda r: r.update(k6_version="k6 v0.99.0 (go1.20)"), "k6 k6 v0.99.0"),
])
def test_runs_from_another_machine_setup_never_share_a_section(change, named):
    records = _ok_records()
    other = copy.deepcopy(records[0])
    change(other)
    other["id"] += "-other"
    text = scenarios(records + [other])
    headings = _headings(text)
    assert len(headings) == 2 and all(named.split()[0] in h for h in headings)
    assert any(named in h for h in headings)
    assert len(_headings(scenarios(records))) == 1


def test_runs_with_other_package_versions_get_their_own_row_naming_the_difference():
    records = [r for r in _ok_records() if r["stack"] == "uvicorn"]
    other = copy.deepcopy(records[0])
    other["packages"]["uvicorn"] = "0.53.0"
    other["id"] += "-older"
    rows = [row["Notes"] for row in main_rows(scenarios(records + [other]))]
    assert len(rows) == 2
    assert sum("with uvicorn 0.54.0" in row for row in rows) == 1
    assert sum("with uvicorn 0.53.0" in row for row in rows) == 1


def test_a_dirty_tree_run_is_marked_and_kept_apart():
    records = [r for r in _ok_records() if r["stack"] == "uvicorn"]
    dirty = copy.deepcopy(records[0])
    dirty["project"] = {"commit": "abc", "dirty": True}
    dirty["id"] += "-dirty"
    rows = [row["Notes"] for row in main_rows(scenarios(records + [dirty]))]
    assert len(rows) == 2
    assert [("from a dirty work tree" in row) for row in rows].count(True) == 1


@pytest.mark.parametrize(("loop", "parser"), [("asyncio", "httptools"), ("uvloop", "h11")])
def test_rows_show_the_loop_and_parser_the_probe_found(loop, parser):
    records = [r for r in _ok_records() if r["stack"] == "uvicorn"]
    other = copy.deepcopy(records[0])
    other["probe"].update(loop=loop, parser=parser, tcp_nodelay=False)
    other["id"] += "-other"
    text = scenarios(records + [other])
    assert sorted((row["Loop"], row["Parser"]) for row in proof_rows(text)) == sorted(
        [(loop, parser), ("uvloop", "httptools")])
    assert ["TCP_NODELAY off" in row["Notes"] for row in main_rows(text)].count(True) == 1


def test_runs_recorded_before_connections_were_recorded_count_as_kept():
    records, _ = read_records(DATA / "runs")
    older = [r for r in records if r["stack"] == "uvicorn" and r["workers"] == 2
             and r["python"] == "3.12.1"]
    for r in older[1:]:
        r["connections"] = "kept"
    older[0].pop("connections", None)
    assert len(older) == 3
    assert len({ClosedKey.of(r) for r in older}) == 1


_BASE_RUN = json.loads((DATA / "runs" / "a-uvicorn.json").read_text())


@pytest.mark.parametrize(("key", "value"), [
    ("python", "3.13.0"), ("workers", 1), ("db_latency_ms", 0), ("vus", 20),
    ("duration_s", 30), ("connections", "per-iteration"), ("k6_version", "k6 v1.2.0"),
    ("host", {**_BASE_RUN["host"], "id": "0123456789ab"}),
    ("host", {**_BASE_RUN["host"], "kernel": "6.19"}),
    ("placement", {"server_cpus": [0], "load_cpus": [1], "shared": False}),
])
def test_runs_that_differ_in_any_scenario_or_machine_fact_never_share_a_section(key, value):
    other = {**copy.deepcopy(_BASE_RUN), key: value, "id": "zz"}
    text = scenarios([copy.deepcopy(_BASE_RUN), other])
    assert len(_headings(text)) == 2  # one section each, one run in each
    assert [row["Runs"] for row in proof_rows(text)] == ["1", "1"]


@pytest.mark.parametrize(("key", "value"), [
    ("stack", "uvicorn-asyncio"), ("threads", 4), ("probe", {**_BASE_RUN["probe"], "loop": "x"}),
    ("probe", {**_BASE_RUN["probe"], "parser": "h11"}),
    ("packages", {**_BASE_RUN["packages"], "uvicorn": "0.53.0"}), ("project", {"dirty": True}),
])
def test_runs_that_differ_in_any_row_fact_never_share_a_row(key, value):
    other = {**copy.deepcopy(_BASE_RUN), key: value, "id": "zz"}
    assert len(main_rows(scenarios([copy.deepcopy(_BASE_RUN), other]))) == 2


def test_a_release_candidate_is_not_the_release():
    final = {**copy.deepcopy(_BASE_RUN), "python": "3.14.0"}
    candidate = {**copy.deepcopy(_BASE_RUN), "python": "3.14.0rc1", "id": "zz"}
    assert len(_headings(scenarios([final, candidate]))) == 2


def test_a_section_says_when_and_from_which_commits_it_was_measured():
    from pyserverbench.report.render import _when

    def record(stack: str, commit: str | None, start: str, end: str | None) -> dict:
        return {"stack": stack, "project": {"commit": commit} if commit else {},
                "started_at": f"2026-11-24T{start}:00+00:00",
                **({"finished_at": f"2026-11-24T{end}:30+00:00"} if end else {})}

    one = [record("sync", "abcdef0123", "10:00", "10:01"), record("uvicorn", "abcdef0123",
                                                                  "10:02", "10:09")]
    assert _when(one) == "- Measured 2026-11-24 10:00 to 2026-11-24 10:09 UTC at commit abcdef0."
    pooled = one + [record("waitress", "9876543210", "12:00", None),
                    record("gevent", None, "11:00", "11:05")]
    assert _when(pooled) == ("- Measured 2026-11-24 10:00 to 2026-11-24 12:00 UTC, pooled from "
                             "commits 9876543 (waitress); abcdef0 (sync, uvicorn); "
                             "unknown (gevent).")


def test_runs_of_separate_roles_name_each_host_and_get_their_own_section():
    roles = {"load": "aaaa 10.0.0.1", "server": "bbbb 10.0.0.2:8000",
             "db": "cccc 10.0.0.3:8100"}
    split = {**copy.deepcopy(_BASE_RUN), "id": "zz", "placement": {"roles": roles,
                                                                   "shared": None}}
    text = scenarios([copy.deepcopy(_BASE_RUN), split])
    assert ("Separate roles: k6 on host aaaa at 10.0.0.1, the server on host bbbb at "
            "10.0.0.2:8000, the fake DB on host cccc at 10.0.0.3:8100.") in text
    assert ("(placement roles load 10.0.0.1, server 10.0.0.2:8000, db 10.0.0.3:8100)"
            in text)
    assert len(_headings(text)) == 2


@pytest.mark.parametrize(("changes", "expected"), [
    ({"workers": 1, "connections": "per-iteration"},
     "## 1 worker, 25 ms DB latency, Python 3.12.1, 10 VUs for 60 s, "
     "new connections every iteration"),
    ({"connections": "kept", "workload": {"name": "fanout", "fanout_calls": 3}},
     "## 2 workers, 25 ms DB latency, Python 3.12.1, 10 VUs for 60 s, workload fanout "
     "(3 calls)"),
    ({"workers": 3, "connections": "per-iteration", "db_latency_ms": 0,
      "user_app": {"name": "shop", "load": "GET / x2, GET /api/items", "key": "k1"}},
     "## Your app shop (GET / x2, GET /api/items), 3 workers, Python 3.12.1, 10 VUs for "
     "60 s, new connections every iteration"),
])
def test_a_sections_heading_names_the_load_it_measured(changes, expected):
    """The heading is the only place a table says how it was loaded."""
    from helpers import closed_record as record

    from pyserverbench.report.render import _heading

    made = record("h", "sync", **changes)
    assert _heading(made, []) == expected
    assert _heading(made, ["host 4a016e28f8a3", "kernel 6.1.0"]) == \
        f"{expected} (host 4a016e28f8a3, kernel 6.1.0)"


def test_a_closed_loop_table_of_a_sitting_states_its_floor_and_what_was_disturbed():
    records = [r for r in _ok_records() if r["stack"] == "uvicorn"]
    for number, record in enumerate(records, start=1):
        record["sitting"] = {"id": "S2", "seed": 3, "round": number, "rounds": 3,
                             "order": number, "cell": "u", "aa": False, "rerun_of": None}
        record["machine"] = {"before": {}, "during": {}, "disturbed": [],
                             "cpu_speed": {"task_ms": 14.0 + number, "median_ms": 15.0,
                                           "wall_over_cpu": 1.0, "cpus": [0]}}
    second = copy.deepcopy(records[0])
    second["id"] += "-aa"
    second["sitting"].update(aa=True, order=9)
    second["metrics"]["requests"] = round(records[0]["metrics"]["requests"] * 1.02)
    text = scenarios(records + [second])
    assert "- Noise floor: 2.0%, the median gap of 1 A/A pair (a stack" in text
    assert "15.0–17.0 ms over the runs" in text
    assert "in sitting S2 (seed 3, 3 rounds" in text
    [row] = proof_rows(text)
    assert row["Runs"] == "3"  # the A/A second is not a fourth run


def test_a_user_app_whose_users_set_the_rate_says_so_in_its_notes():
    from helpers import closed_record as record
    from helpers import user_app

    app = user_app()
    capped = record("c", "gthread", user_app=app, client={"vus": 10, "slots": 32,
                                                          "server_busy": 0.41, "bound": True})
    free = record("f", "sync", user_app=app, client={"vus": 10, "slots": 2,
                                                     "server_busy": 0.3, "bound": False})
    rows = {row["Stack"].split(" ")[0]: row for row in main_rows(render([capped, free]))}
    assert ("client-bound in 1 of 1: 10 VUs and at most 32 slots, server CPUs at most 41% "
            "busy (raise --vus)") in rows["gthread"]["Notes"]
    assert "client-bound" not in rows["sync"]["Notes"]
