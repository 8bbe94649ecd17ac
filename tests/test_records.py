"""The record: its schema, reading with one-line warnings, the atomic write, the keys."""

import copy
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import DATA, ROOT, capacity_record
from jsonschema import Draft202012Validator

from pyserverbench.records import (
    MAX_BYTES,
    SCHEMA_PATH,
    read_records,
    record_id,
    record_problem,
    schema,
    write_record,
    write_text,
)

COMMITTED = sorted([*(ROOT / "results" / "runs").glob("*.json"),
                    *(ROOT / "examples" / "results").glob("*/runs/*.json"),
                    *(ROOT / "trials").glob("*/*.json"),
                    *(ROOT / "archive").glob("*/*.json")])


def test_the_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text()))


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_committed_record_is_valid_against_the_schema(path):
    record = json.loads(path.read_text())
    assert [e.message for e in Draft202012Validator(schema()).iter_errors(record)] == []
    assert record_problem(record) is None
    assert path.stem == record["id"]


def test_the_committed_records_are_many_and_of_every_kind():
    records = [json.loads(path.read_text()) for path in COMMITTED]
    assert len(records) > 300
    assert {r.get("kind") for r in records} == {None, "capacity"}
    assert any("roles" in r for r in records) and any("user_app" in r for r in records)
    assert any(not r["ok"] for r in records)


def _named(table: str) -> set[str]:
    """The backticked names in the first column of a Markdown table."""
    return {name for line in table.splitlines() if line.startswith("| `")
            for name in re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])}


def test_the_record_format_page_names_exactly_the_schemas_fields():
    page = (ROOT / "docs" / "record-format.md").read_text()
    closed, capacity = page.split("| field | content |")[1:3]
    assert _named(closed) == set(schema()["properties"])
    assert _named(capacity) == set(schema()["properties"]["capacity"]["properties"])


def test_a_misspelt_or_unknown_field_is_named():
    good = json.loads((DATA / "runs" / "a-uvicorn.json").read_text())
    assert record_problem({**good, "worker": 2}) == \
        "the record: Additional properties are not allowed ('worker' was unexpected)"
    assert record_problem({**good, "id": "../../etc/x"}).startswith("field id does not match")




def test_record_ids_sort_by_start_and_name_the_run():
    started = datetime(2026, 11, 24, 3, 4, 5, tzinfo=timezone.utc)
    rid = record_id("gthread", 2, "3.12.1", started)
    assert re.fullmatch(r"20261124T030405Z-gthread-w2-py3\.12\.1-[0-9a-f]{6}", rid)
    assert rid != record_id("gthread", 2, "3.12.1", started)


def test_write_record_is_complete_and_leaves_no_temporary(tmp_path):
    path = write_record(tmp_path / "results" / "runs", {"id": "r1", "ok": True, "a": [1]})
    assert path == tmp_path / "results" / "runs" / "r1.json"
    # sorted keys, indented: records diff well under version control
    assert path.read_text() == '{\n  "a": [\n    1\n  ],\n  "id": "r1",\n  "ok": true\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["r1.json"]


def test_a_record_that_cannot_be_serialised_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_record(tmp_path, {"id": "r2", "bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_previous_record_intact(tmp_path):
    path = write_record(tmp_path, {"id": "r3", "ok": True})
    before = path.read_text()
    with pytest.raises(TypeError):
        write_record(tmp_path, {"id": "r3", "ok": False, "bad": object()})
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r3.json"]


def test_a_failed_report_write_leaves_the_previous_report_intact(tmp_path):
    report = tmp_path / "README.md"
    write_text(report, "old report\n")
    with pytest.raises(UnicodeEncodeError):
        write_text(report, "half written \udcff")  # a lone surrogate cannot be encoded
    assert report.read_text() == "old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


@pytest.mark.parametrize("write", ["record", "report"])
def test_the_half_written_file_is_hidden_beside_its_target(tmp_path, monkeypatch, write):
    # Beside it, so the final rename stays on one file system; hidden and not *.json,
    # so a write cut short never looks like a record to the report.
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: renames.append((a, b)) or real_replace(a, b))
    if write == "record":
        target = write_record(tmp_path, {"id": "r4"})
    else:
        target = tmp_path / "README.md"
        write_text(target, "report\n")
    [(temporary, final)] = renames
    temporary = Path(temporary)
    assert Path(final) == target and temporary.parent == tmp_path
    assert temporary.name.startswith(".") and temporary.name.endswith(".tmp")


def test_each_skipped_file_is_named_with_its_reason(tmp_path):
    good = json.loads((DATA / "runs" / "a-uvicorn.json").read_text())
    files = {
        "a.json": "[1, 2]",
        "b.json": json.dumps({**good, "format": 1}),
        "c.json": json.dumps({**good, "workers": "2"}),
        "d.json": json.dumps({**good, "metrics": {**good["metrics"], "rps": None}}),
        "e.json": json.dumps({**good, "metrics": None}),
        "f.json": json.dumps({**good, "probe": None}),
        "g.json": json.dumps({**good, "ok": False, "metrics": None, "probe": None}),
        "h.json": "{",
        "j.json": json.dumps({**good, "metrics": {**good["metrics"], "rps": float("nan")}}),
        "k.json": json.dumps({**good, "metrics": {**good["metrics"], "rps": -1.5}}),
        "l.json": json.dumps({**good, "duration_s": 1e308}),
        "m.json": json.dumps({**good, "mode": "x" * 20_001}),
        "n.json": "[" * 100_000 + "]" * 100_000,
        "o.json": json.dumps({**good, "k6_summary": {"a": json.loads("[" * 40 + "]" * 40)}}),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "i.json").mkdir()  # unreadable as a file
    (tmp_path / "p.json").write_bytes(b"\xff\xfe")
    os.mkfifo(tmp_path / "q.json")  # would hang a reader that waits for a writer
    (tmp_path / "r.json").write_bytes(b" " * (MAX_BYTES + 1))
    records, warnings = read_records(tmp_path)
    assert [r["ok"] for r in records] == [False]  # a failed run needs no metrics
    assert warnings == [f"skipped {tmp_path / name}: {reason}" for name, reason in [
        ("a.json", "not a JSON object"),
        ("b.json", "format 1, expected 2"),
        ("c.json", "field workers is str, expected integer"),
        ("d.json", "field metrics.rps is NoneType, expected number"),
        ("e.json", "ok record without complete metrics"),
        ("f.json", "ok record without the probe of what served it"),
        ("h.json", "unreadable (JSONDecodeError)"),
        ("i.json", "not a regular file"),
        ("j.json", "field metrics.rps is nan, not a finite number"),
        ("k.json", "field metrics.rps is -1.5, below zero"),
        ("l.json", "field duration_s is 1e+308, past the bound of 1e+15"),
        ("m.json", "field mode is longer than 20000 characters"),
        ("n.json", "unreadable (nested too deep)"),
        ("o.json", "field k6_summary.a.0.0.0.0.… is nested more than 32 deep"),
        ("p.json", "unreadable (UnicodeDecodeError)"),
        ("q.json", "not a regular file"),
        ("r.json", f"{MAX_BYTES + 1} bytes, more than {MAX_BYTES}"),
    ]]


def test_an_ok_record_without_a_probe_is_skipped():
    record = json.loads((DATA / "runs" / "a-uvicorn.json").read_text())
    del record["probe"]
    assert "probe" in record_problem(record)


def test_a_capacity_record_must_carry_its_settings_and_an_ok_one_its_search():
    good = capacity_record("uvicorn", 0, 1000.0)
    assert record_problem(good) is None
    assert record_problem(capacity_record("uvicorn", 0, 0.0, ok=False, error="x")) is None
    no_settings = copy.deepcopy(good)
    del no_settings["capacity"]["mix"]
    assert record_problem(no_settings) == "capacity record without the settings of its search"
    no_rps = copy.deepcopy(good)
    no_rps["capacity"]["rps"] = None
    assert record_problem(no_rps) == "ok capacity record without a complete search"
    no_bounds = copy.deepcopy(good)
    del no_bounds["capacity"]["bounds"]
    assert record_problem(no_bounds) == "ok capacity record without a complete search"
    no_probe = copy.deepcopy(good)
    no_probe["probe"] = None
    assert record_problem(no_probe) == "ok record without the probe of what served it"
