"""No record can break the report: a bad one is skipped in one line and the rest renders,
a record's text is shown and never acts as a table column, HTML or math, `--output` is
checked in one line, and the report is written whole or not at all."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from helpers import DATA, capacity_record, tables, user_app

from pyserverbench.report import main as report
from pyserverbench.report.html import render_html
from pyserverbench.report.main import main
from pyserverbench.report.markdown import cell, escaped_page, pipe_table
from pyserverbench.report.render import all_charts, joined, sections

HOSTILE = {"mode": "a|b <script>alert(1)</script>", "server": "<img src=x onerror=alert(1)>",
           "app": "$\\frac{$ \x1b[31mred", "worker_class": "w|x|y"}


def _good() -> dict:
    return json.loads((DATA / "runs" / "a-uvicorn.json").read_text())


def _write(directory: Path, records: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, record in records.items():
        (directory / name).write_text(json.dumps(record))
    return directory


def test_a_cell_escapes_each_bar_once_and_keeps_one_line():
    assert cell("a|b\\|c\nd") == "a\\|b\\|c d"
    table = pipe_table([["a|b", "1"]], ["x", "y"])
    assert [list(row.values()) for row in tables(table)[0]] == [["a\\|b", "1"]]


def test_a_page_escapes_markup_math_and_controls_but_not_its_own_tags():
    ours = '<a id="the-answer"></a>\n\n<details><summary>How</summary>\n\n</details>'
    assert escaped_page(ours) == ours
    assert escaped_page("<script>x</script> $y$ \x1b[2J") == \
        "&lt;script&gt;x&lt;/script&gt; \\$y\\$ \ufffd[2J"
    assert escaped_page('<a id="x" onclick="y"></a>') == \
        '&lt;a id="x" onclick="y"&gt;&lt;/a&gt;'


def test_a_records_text_is_shown_not_run_in_the_markdown_html_and_charts():
    closed = {**_good(), **HOSTILE}
    searched = [{**capacity_record("uvicorn", 25, 900.0, number=n), **HOSTILE,
                 "user_app": user_app(name="$\\frac{$ <b>")} for n in (1, 2, 3)]
    records = [closed, *searched]
    text = joined(sections(records))
    for raw in ("<script>", "<img", "<b>", "\x1b"):
        assert raw not in text
    assert not re.search(r"(?<!\\)\$", text)  # each `$` escaped: no math
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    for table in tables(text):  # zip(strict=True) in tables(): no row gained a column
        assert table
    charts = all_charts(records)  # mathtext would raise on `$\frac{$`
    assert charts and all("frac{" in svg for svg in charts.values())
    page = render_html(records, charts)
    for raw in ("<script>alert", "<img src=x", "<b>", "\x1b"):
        assert raw not in page


@pytest.mark.parametrize(("name", "change", "field"), [
    ("nan.json", {"duration_s": float("nan")}, "field duration_s is nan"),
    ("inf.json", {"vus": float("inf")}, "field vus is inf"),
    ("neg.json", {"db_latency_ms": -1}, "field db_latency_ms is -1, below zero"),
    ("huge.json", {"db_latency_ms": 1e308}, "field db_latency_ms is 1e+308"),
    ("stack.json", {"stack": "$\\frac$"}, "field stack does not match"),
    ("app.json", {"user_app": "x"}, "field user_app is str, expected object"),
    ("usage.json", {"usage": {**_good()["usage"], "k6": {"cpu_s": "1", "wall_s": 6.0}}},
     "field usage.k6.cpu_s is str"),
    ("fakedb.json", {"usage": {**_good()["usage"], "fakedb": {}}},
     "field usage.fakedb: 'cpu_s' is a required property"),
])
def test_a_bad_record_is_skipped_in_one_line_and_the_rest_renders(tmp_path, capsys, name,
                                                                     change, field):
    runs = _write(tmp_path / "runs", {"good.json": _good(), name: {**_good(), **change}})
    out = tmp_path / "out"
    out.mkdir()
    assert main(["--runs-dir", str(runs), "--output", str(out / "R.md")]) == 0
    [warning] = capsys.readouterr().err.splitlines()
    assert warning.startswith(f"warning: skipped {runs / name}: {field}")
    assert "1 records, 1 skipped" in capsys.readouterr().out or (out / "R.md").exists()
    assert "uvicorn" in (out / "R.md").read_text()


def test_a_fifo_named_like_a_record_is_skipped_without_waiting(tmp_path, capsys):
    runs = _write(tmp_path / "runs", {"good.json": _good()})
    os.mkfifo(runs / "pipe.json")
    assert main(["--runs-dir", str(runs), "--output", str(tmp_path / "R.md")]) == 0
    assert capsys.readouterr().err == f"warning: skipped {runs / 'pipe.json'}: " \
                                      "not a regular file\n"


@pytest.mark.parametrize(("output", "said"), [
    ("out", "is a directory"),
    ("missing/R.md", "which is not a directory"),
    ("out/index.html", "would be overwritten by the HTML report"),
    ("out/c.svg", "would be overwritten by the HTML report or a chart"),
])
def test_output_is_checked_in_one_line_before_anything_is_written(tmp_path, capsys, output,
                                                                  said):
    runs = _write(tmp_path / "runs", {"good.json": _good()})
    (tmp_path / "out").mkdir()
    assert main(["--runs-dir", str(runs), "--output", str(tmp_path / output)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: --output {tmp_path / output} ") and said in line
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failed_write_leaves_the_whole_old_report(tmp_path, monkeypatch):
    runs = _write(tmp_path / "runs", {f"{n}.json": capacity_record("uvicorn", 25, 900.0 + n,
                                                                   number=n)
                                      for n in (1, 2, 3)})
    out = tmp_path / "out"
    out.mkdir()
    assert main(["--runs-dir", str(runs), "--output", str(out / "R.md")]) == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert {"R.md", "index.html"} < set(before) and any(n.endswith(".svg") for n in before)
    (runs / "4.json").write_text(json.dumps(capacity_record("sync", 25, 200.0)))
    real, calls = report.write_text, []

    def failing(path: Path, text: str) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(report, "write_text", failing)
    with pytest.raises(OSError):
        main(["--runs-dir", str(runs), "--output", str(out / "R.md")])
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert len(calls) == 3 and not any(re.match(r"\.report-", p.name) for p in out.iterdir())
