"""`compare`: the verdict on records whose answer is known, selections, hosts, the gate."""

import json

import pytest
from helpers import capacity_record, user_app
from helpers import closed_record as record

from pyserverbench.compare import compare


@pytest.mark.parametrize(("a", "b", "expected"), [
    ([100, 101, 99], [120, 121, 119], "faster"),
    ([120, 121, 119], [100, 101, 99], "slower"),
    ([100, 130, 70], [105, 140, 75], "no significant difference"),  # spread swamps +5%
    ([100, 110], [150, 200], "no significant difference"),  # +59%, but 2 runs of wide B
    ([100, 101], [104, 105], "faster"),  # tight runs: a 4% change is real
    ([100], [200, 201], "too few runs"),
    ([100, 100], [110, 110], "faster"),  # no spread at all: any change is real
    ([218.8, 218.8], [218.8, 218.8], "no significant difference"),
])
def test_the_verdict_weighs_the_spread(a, b, expected):
    assert compare.verdict(a, b) == expected


def test_a_change_within_the_search_resolution_is_no_difference():
    assert compare.verdict([100, 100], [104, 104], resolution=0.05) == compare.SAME
    assert compare.verdict([100, 100], [106, 106], resolution=0.05) == compare.FASTER
    assert compare.verdict([4, 4], [5, 5], resolution=0.25) == compare.SAME  # 25% exactly


def _closed(name, stack, python, rps, host="4a016e28f8a3", ok=True, **changes):
    made = record(name, stack, python=python, **changes)
    if made["metrics"] is not None:
        made["metrics"]["rps"] = rps
    made["host"] = {**made["host"], "id": host}
    made["ok"] = ok
    return made


def _write(directory, records):
    directory.mkdir(parents=True, exist_ok=True)
    for made in records:
        (directory / f"{made['id']}.json").write_text(json.dumps(made))
    return directory


def _pythons(tmp_path, newer_uvicorn=(300, 301, 302), sync_host="4a016e28f8a3"):
    """sync and uvicorn on 3.12 and 3.13: uvicorn's 3.13 runs as given, sync alike."""
    made = [_closed(f"0{i}", "uvicorn", "3.12.1", rps) for i, rps in
            enumerate((200, 201, 202))]
    made += [_closed(f"1{i}", "uvicorn", "3.13.0", rps) for i, rps in
             enumerate(newer_uvicorn)]
    made += [_closed(f"2{i}", "sync", "3.12.1", rps) for i, rps in enumerate((50, 51))]
    made += [_closed(f"3{i}", "sync", "3.13.0", rps, host=sync_host)
             for i, rps in enumerate((50, 52))]
    return _write(tmp_path / "runs", made)


def test_filters_pair_each_stack_across_pythons(tmp_path):
    runs = _pythons(tmp_path)
    a, b = compare.select("python=3.12", runs), compare.select("python=3.13", runs)
    rows, refused, unmatched = compare.compare(a, b)
    found = {row.name.split()[1]: row for row in rows}
    assert set(found) == {"uvicorn", "sync"} and not refused
    assert found["uvicorn"].verdict == "faster"
    assert found["uvicorn"].change == pytest.approx(301 / 201 - 1)  # of the medians
    assert found["sync"].verdict == "no significant difference"
    assert "py3" not in found["sync"].name  # the field compared is not in the name
    assert unmatched == {"only in A": 0, "only in B": 0}


def test_configurations_from_different_hosts_are_refused_in_one_line(tmp_path):
    runs = _pythons(tmp_path, sync_host="other-host")
    rows, refused, _ = compare.compare(compare.select("python=3.12", runs),
                                       compare.select("python=3.13", runs))
    assert [row.name.split()[1] for row in rows] == ["uvicorn"]
    assert len(refused) == 1 and "different hosts" in refused[0]
    assert refused == ["not compared, measured on different hosts (A on 4a016e28f8a3; B on "
                       "other-host): closed sync w2 mix 25 ms 10 VUs 60 s"]


def test_failed_runs_are_left_out_and_counted(tmp_path):
    made = [_closed("01", "sync", "3.12.1", 50), _closed("02", "sync", "3.12.1", 51),
            _closed("03", "sync", "3.13.0", 70), _closed("04", "sync", "3.13.0", 71),
            _closed("05", "sync", "3.13.0", 1e6, ok=False, metrics=None, error="died")]
    runs = _write(tmp_path / "runs", made)
    [row], _, _ = compare.compare(compare.select("python=3.12", runs),
                                  compare.select("python=3.13", runs))
    assert row.b == [70, 71] and row.failed == 1 and row.verdict == "faster"


def test_directories_compare_the_same_python_and_a_package_filter_selects(tmp_path):
    old = _write(tmp_path / "old", [_closed(f"0{i}", "uvicorn", "3.12.1", v)
                                    for i, v in enumerate((200, 201))])
    new = _write(tmp_path / "new", [
        _closed(f"1{i}", "uvicorn", "3.12.1", v, packages={"uvicorn": "0.55.0"})
        for i, v in enumerate((150, 151))])
    [row], _, _ = compare.compare(compare.select(str(old), tmp_path),
                                  compare.select(str(new), tmp_path))
    assert row.verdict == "slower" and "py3.12.1" in row.name
    chosen = compare.select("uvicorn=0.55.0", new)
    assert len(chosen.records) == 2 and chosen.named == {"uvicorn"}


def test_capacity_searches_compare_their_capacity(tmp_path):
    made = [capacity_record("uvicorn", 25, rps, n, python=py) for n, (py, rps) in
            enumerate([("3.12.1", 1000.0), ("3.12.1", 1010.0), ("3.13.0", 1200.0),
                       ("3.13.0", 1210.0)])]
    for n, item in enumerate(made):
        item["id"] = f"cap-{n}"
    runs = _write(tmp_path / "runs", made)
    [row], _, _ = compare.compare(compare.select("python=3.12", runs),
                                  compare.select("python=3.13", runs))
    assert row.a == [1000.0, 1010.0] and row.verdict == "faster"
    assert row.name.startswith("capacity uvicorn")


@pytest.mark.parametrize("bad", ["pyton=3.12", "python", "python=", "nothing/here"])
def test_a_bad_selector_is_one_line_naming_it(tmp_path, capsys, bad):
    runs = _pythons(tmp_path)
    assert _main([bad, "python=3.13", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert bad in err and "python, stack" in err and err.count("\n") == 1


def test_a_selector_matching_nothing_is_refused(tmp_path, capsys):
    runs = _pythons(tmp_path)
    assert _main(["python=3.9", "python=3.13", "--runs-dir", str(runs)]) == 2
    assert "'python=3.9' matches no record" in capsys.readouterr().err


def _main(argv):
    try:
        return compare.main(argv)
    except SystemExit as exc:
        return exc.code


def test_the_gate_fails_on_a_significant_regression_beyond_its_threshold(tmp_path, capsys):
    runs = _pythons(tmp_path, newer_uvicorn=(150, 151, 152))  # uvicorn 25% slower on 3.13
    argv = ["python=3.12", "python=3.13", "--runs-dir", str(runs)]
    assert _main(argv) == 0  # no gate asked for
    assert _main([*argv, "--fail-slower", "30"]) == 0  # slower, but within 30%
    capsys.readouterr()
    assert _main([*argv, "--fail-slower", "20"]) == 1
    out, err = capsys.readouterr()
    assert "slower" in out and "-24.9%" in out
    assert "1 configurations slower by more than 20%" in err and "uvicorn" in err


def test_nothing_in_common_is_an_error(tmp_path, capsys):
    old = _write(tmp_path / "old", [_closed("01", "uvicorn", "3.12.1", 200)])
    new = _write(tmp_path / "new", [_closed("02", "uvicorn", "3.13.0", 300)])
    assert _main([str(old), str(new)]) == 2  # directories name no field: Pythons differ
    out, err = capsys.readouterr()
    assert "1 configurations only in A, 1 configurations only in B" in out
    assert "no configuration was measured in both" in err


def test_a_side_that_pools_commits_says_so(tmp_path):
    made = [_closed("01", "sync", "3.12.1", 50), _closed("02", "sync", "3.12.1", 51),
            _closed("03", "sync", "3.13.0", 70, project={"commit": "aaa", "dirty": False}),
            _closed("04", "sync", "3.13.0", 71, project={"commit": "bbb", "dirty": False})]
    runs = _write(tmp_path / "runs", made)
    a, b = compare.select("python=3.12", runs), compare.select("python=3.13", runs)
    [row], _, _ = compare.compare(a, b)
    assert row.pooled == ["B pools 2 commits"]
    assert "faster; B pools 2 commits" in compare.render(a, b, [row], [], {})
    [row], _, _ = compare.compare(a, compare.select("python=3.13,commit=aaa", runs))
    assert row.pooled == [] and row.b == [70]


def test_cpu_per_request_is_compared_lower_is_better(tmp_path, capsys):
    made = [_closed(f"0{i}", "sync", "3.12.1", 50) for i in range(2)]
    made += [_closed(f"1{i}", "sync", "3.13.0", 40) for i in range(2)]
    for item, cpu in zip(made, (4.0, 4.1, 3.0, 3.1), strict=True):
        item["usage"]["server"]["cpu_s"] = cpu
        item["metrics"]["requests"] = 10000
    runs = _write(tmp_path / "runs", made)
    argv = ["python=3.12", "python=3.13", "--runs-dir", str(runs)]
    assert _main([*argv, "--fail-slower", "10"]) == 1  # 20% fewer req/s
    capsys.readouterr()
    assert _main([*argv, "--metric", "cpu", "--fail-slower", "10"]) == 0
    out = capsys.readouterr().out
    assert "CPU ms per request, lower is better" in out
    assert "0.405 (2 runs, 0.400-0.410)" in out and "faster" in out and "-24.7%" in out
    assert compare.verdict([3.0, 3.1], [4.0, 4.1], lower_is_better=True) == compare.SLOWER


def test_capacity_cpu_is_its_cost_per_1000_requests():
    made = capacity_record("uvicorn", 25, 1000.0)
    assert compare.value(made, "cpu") == 0.5 and compare.value(made) == 1000.0


def test_user_apps_pair_only_with_the_same_app_and_load(tmp_path):
    def users(name, python, key, rps_values):
        made = [_closed(f"{name}{python[-1]}{i}", "sync", python, rps)
                for i, rps in enumerate(rps_values)]
        for one in made:
            one["user_app"] = user_app(name, key)
        return made

    runs = _write(tmp_path / "runs", [*users("shop", "3.12.1", "k1", (100, 101)),
                                      *users("shop", "3.13.0", "k1", (150, 151)),
                                      *users("blog", "3.13.0", "k2", (900, 901))])
    a, b = compare.select("python=3.12", runs), compare.select("python=3.13", runs)
    rows, refused, unmatched = compare.compare(a, b)
    [row] = rows
    assert "app shop (k1)" in row.name and row.b == [150, 151] and not refused
    assert unmatched == {"only in A": 0, "only in B": 1}  # blog has nothing to pair with


@pytest.mark.parametrize(("made", "named", "expected"), [
    (record("t", "gthread", threads=4, connections="per-iteration"), (),
     "closed gthread py3.12.1 w2 t4 mix 25 ms 10 VUs 60 s new connections"),
    (record("k", "sync"), (), "closed sync py3.12.1 w2 mix 25 ms 10 VUs 60 s"),
    (record("n", "gthread", threads=4, connections="per-iteration"), ("python", "stack"),
     "closed w2 t4 mix 25 ms 10 VUs 60 s new connections"),
    (record("w", "sync", workers=1), ("workers", "db_latency"),
     "closed sync py3.12.1 mix 10 VUs 60 s"),
    (record("u", "uvicorn", db_latency_ms=0, user_app={"name": "shop", "key": "k1"}), (),
     "closed uvicorn app shop (k1) py3.12.1 w2 mix 0 ms 10 VUs 60 s"),
    (capacity_record("uvicorn", 25, 800.0), (),
     "capacity uvicorn py3.13.0 w2 mix 25 ms goal 75 ms /:2,/api:1"),
])
def test_a_rows_name_says_what_sets_its_configuration_apart(made, named, expected):
    """The row name is the label a reader trusts: each field of the configuration in it,
    and none a filter named (those differ between the sides on purpose)."""
    assert compare._name(compare.configuration(made, frozenset(named))) == expected


@pytest.mark.parametrize("failing", ["A", "B"])
def test_a_side_with_no_successful_run_is_refused_by_name_and_the_rest_compared(
        tmp_path, failing):
    """gthread sorts before sync: its refusal must not end the comparison."""
    python = "3.12.1" if failing == "A" else "3.13.0"
    made = [_closed(f"{n}{i}", stack, py, rps, ok=not (stack == "gthread" and py == python))
            for n, (stack, py, rps) in enumerate([("gthread", "3.12.1", 60),
                                                  ("gthread", "3.13.0", 61),
                                                  ("sync", "3.12.1", 50),
                                                  ("sync", "3.13.0", 70)])
            for i in range(2)]
    runs = _write(tmp_path / "runs", made)
    rows, refused, _ = compare.compare(compare.select("python=3.12", runs),
                                       compare.select("python=3.13", runs))
    assert refused == [f"not compared, no successful run with a figure above 0 in {failing}: "
                       "closed gthread w2 mix 25 ms 10 VUs 60 s"]
    assert [(row.name.split()[1], row.a, row.b) for row in rows] == [
        ("sync", [50, 50], [70, 70])]


def test_a_figure_of_zero_is_refused_not_divided_by(tmp_path):
    made = [_closed(f"{n}{i}", "sync", py, rps)
            for n, (py, rps) in enumerate([("3.12.1", 0), ("3.13.0", 70)]) for i in range(2)]
    runs = _write(tmp_path / "runs", made)
    rows, refused, _ = compare.compare(compare.select("python=3.12", runs),
                                       compare.select("python=3.13", runs))
    assert rows == []
    assert refused == ["not compared, no successful run with a figure above 0 in A: "
                       "closed sync w2 mix 25 ms 10 VUs 60 s"]


def test_only_capacity_within_its_search_resolution_counts_as_no_difference(tmp_path):
    """A search finds its rate to within 5%: +3% capacity is no difference. Its CPU cost
    is measured, not searched, so +3% CPU there is a real change."""
    made = []
    for n, (py, rps, cpu) in enumerate([("3.12.1", 1000.0, 0.500), ("3.12.1", 1001.0, 0.501),
                                        ("3.13.0", 1030.0, 0.515), ("3.13.0", 1031.0, 0.516)]):
        made.append(capacity_record("uvicorn", 25, rps, n, python=py))
        made[-1]["id"] = f"cap-{n}"
        made[-1]["capacity"]["cpu_s_per_1000"] = cpu
    runs = _write(tmp_path / "runs", made)
    a, b = compare.select("python=3.12", runs), compare.select("python=3.13", runs)
    [by_rate], _, _ = compare.compare(a, b)
    [by_cpu], _, _ = compare.compare(a, b, "cpu")
    assert by_rate.verdict == compare.SAME
    assert by_cpu.verdict == compare.SLOWER


SHARED = {"server_cpus": [0, 1], "load_cpus": [0, 1], "shared": True, "host_cores": 2}


@pytest.mark.parametrize(("field", "other"), [
    ("workers", 4), ("threads", 8), ("python", "3.13.0"), ("db_latency_ms", 5),
    ("vus", 50), ("duration_s", 30), ("connections", "per-iteration"),
    ("workload", {"name": "page", "page_rows": 0}),
    ("placement", {"server_cpus": [0], "load_cpus": [1], "shared": False, "host_cores": 2}),
    ("user_app", {"name": "shop", "key": "k1"})])
def test_closed_loop_runs_that_differ_in_one_setting_are_never_paired(field, other):
    changed = record("b", "sync", **{"placement": SHARED, field: other})
    assert compare.configuration(changed, frozenset()) != \
        compare.configuration(record("a", "sync", placement=SHARED), frozenset())


@pytest.mark.parametrize(("field", "other"), [("goal_ms", 100), ("step_s", 10),
                                              ("mix", "/:1")])
def test_capacity_searches_that_differ_in_one_setting_are_never_paired(field, other):
    base, changed = capacity_record("uvicorn", 25, 800.0), capacity_record("uvicorn", 25, 800.0)
    changed["capacity"][field] = other
    assert compare.configuration(changed, frozenset()) != \
        compare.configuration(base, frozenset())


def test_what_does_not_set_a_run_apart_still_pairs_it():
    """The host's core count is checked with the host; an older record without
    `connections` kept its connections."""
    base = record("a", "sync", placement=SHARED, connections="kept")
    other_host = record("b", "sync", placement={**SHARED, "host_cores": 64})
    other_host.pop("connections", None)
    assert compare.configuration(other_host, frozenset()) == \
        compare.configuration(base, frozenset())
