import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pyserverbench.record import record_id, write_record
from pyserverbench.report import write_text


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
