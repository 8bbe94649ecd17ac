import json
from datetime import datetime, timezone

import pytest

from pyserverbench.record import record_id, write_record


def test_record_ids_sort_by_start_and_name_the_run():
    started = datetime(2026, 11, 24, 3, 4, 5, tzinfo=timezone.utc)
    rid = record_id("gthread", 2, "3.12.1", started)
    assert rid.startswith("20261124T030405Z-gthread-w2-py3.12.1-")
    assert rid != record_id("gthread", 2, "3.12.1", started)


def test_write_record_is_complete_and_leaves_no_temporary(tmp_path):
    path = write_record(tmp_path / "runs", {"id": "r1", "ok": True})
    assert json.loads(path.read_text()) == {"id": "r1", "ok": True}
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["r1.json"]


def test_a_record_that_cannot_be_serialised_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_record(tmp_path, {"id": "r2", "bad": object()})
    assert list(tmp_path.iterdir()) == []
