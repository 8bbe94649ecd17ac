"""The report's view across Pythons."""


from helpers import capacity_record
from helpers import closed_record as record

from pyserverbench.report.render import render


def _closed(name, stack, python, requests, cpu_s=10.0, host="4a016e28f8a3", ok=True):
    made = record(name, stack, requests, python=python)
    made["usage"]["server"]["cpu_s"] = cpu_s
    made["host"] = {**made["host"], "id": host}
    if not ok:
        made.update(ok=False, metrics=None, error="server died")
    return made


def _view(text, heading):
    part = text.split(heading)[1].split("\n### ")[0].split("\n## ")[0]
    return [[cell.strip() for cell in line.split("|")[1:-1]]
            for line in part.splitlines() if line.startswith("| ") and "Stack" not in line]


def test_each_stack_gets_a_cell_per_python_with_median_spread_and_cpu():
    records = [_closed("01", "uvicorn", "3.12.1", 10000, cpu_s=2.0),
               _closed("02", "uvicorn", "3.12.1", 12000, cpu_s=3.0),
               _closed("03", "uvicorn", "3.12.1", 11000, cpu_s=2.2),
               _closed("04", "uvicorn", "3.13.0", 13000, cpu_s=2.6),
               _closed("05", "uvicorn", "3.13.0", 1, ok=False),
               _closed("06", "sync", "3.13.0", 5000)]
    text = render(records)
    heading = "### Closed loop across Pythons, 2 workers, 25 ms DB latency, 10 VUs for 60 s"
    assert "## Across Pythons" in text and heading in text
    header = next(line for line in text.split(heading)[1].splitlines() if "Stack" in line)
    assert header.index("Python 3.12.1") < header.index("Python 3.13.0")
    assert _view(text, heading) == [
        ["sync", "—", "83.3/s, 2.00 CPU ms/req"],  # 5,000 requests in 60 s
        ["uvicorn", "183 (167-200)/s, 0.20 CPU ms/req",
         "217/s, 0.20 CPU ms/req; 1 failed"]]


def test_one_python_or_hosts_apart_give_no_view_across_pythons():
    alone = render([_closed("01", "uvicorn", "3.12.1", 10000),
                    _closed("02", "uvicorn", "3.12.1", 12000)])
    assert "Across Pythons" not in alone
    apart = render([_closed("01", "uvicorn", "3.12.1", 10000),
                    _closed("02", "uvicorn", "3.13.0", 12000, host="other")])
    assert "Across Pythons" not in apart


def test_capacity_searches_get_their_own_view_per_latency():
    records = []
    for n, (python, latency, rps) in enumerate([
            ("3.10.13", 25, 900.0), ("3.10.13", 25, 1000.0), ("3.13.0", 25, 1200.0),
            ("3.13.0", 0, 2000.0)]):
        made = capacity_record("uvicorn", latency, rps, python=python)
        made["id"] = f"cap-{n}"
        records.append(made)
    text = render(records)
    heading = ("### Capacity across Pythons, 2 workers, 25 ms DB latency, p99 goal DB "
               "latency + 50 ms, 5 s steps")
    assert _view(text, heading) == [["uvicorn", "950 (900-1,000)/s", "1,200/s"]]
    assert "Capacity across Pythons, 2 workers, 0 ms" not in text  # one Python only


def test_pythons_measured_at_other_commits_are_not_one_table():
    older = _closed("02", "uvicorn", "3.13.0", 12000)
    older["project"] = {"commit": "0123456789", "dirty": False}
    text = render([_closed("01", "uvicorn", "3.12.1", 10000), older])
    assert "Across Pythons" not in text
    newer = _closed("03", "uvicorn", "3.13.0", 12000)
    assert "Across Pythons" in render([_closed("01", "uvicorn", "3.12.1", 10000), newer])
