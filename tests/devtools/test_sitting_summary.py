"""A sitting's summary: repeats, spread, noise floor and tie groups from real files."""

import json
from pathlib import Path

from pyserverbench.devtools.sitting_summary import main


def _write(folder: Path, stack: str, rps: float | None, round_: int, order: int,
           aa: bool = False, sitting: str = "S1") -> None:
    record = {"kind": "capacity", "stack": stack, "workers": 2, "db_latency_ms": 25,
              "ok": rps is not None, "started_at": f"2026-12-02T08:{order:02d}:00+00:00",
              "finished_at": f"2026-12-02T08:{order:02d}:30+00:00",
              "sitting": {"id": sitting, "round": round_, "order": order, "aa": aa,
                          "cell": f"capacity {stack}", "rerun_of": None},
              "capacity": {"rps": rps, "failing_rps": None, "steps": [{}, {}]}}
    (folder / f"{sitting}-{order}.json").write_text(json.dumps(record))


def _sitting(folder: Path, sitting: str, gevent: tuple[float, ...]) -> Path:
    folder.mkdir()
    (folder / "sittings").mkdir()
    (folder / "sittings" / f"{sitting}.json").write_text("{}")  # a plan: not a record
    order = 0
    for round_, (u, g) in enumerate(zip((1000.0, 1020.0, 990.0), gevent, strict=True), 1):
        for stack, rps in (("uvicorn", u), ("gevent", g), ("sync", 200.0 + round_)):
            order += 1
            _write(folder, stack, rps, round_, order, sitting=sitting)
    _write(folder, "uvicorn", 1040.0, 2, order + 1, aa=True, sitting=sitting)
    return folder


def test_it_states_each_cell_the_noise_floor_and_the_groups(tmp_path, capsys):
    folder = _sitting(tmp_path / "a", "S1", (700.0, 720.0, 760.0))
    assert main([str(folder)]) == 0
    out = capsys.readouterr().out
    # the floor: 1,020 against its A/A second of 1,040
    assert "S1: x2, 25 ms: 10 searches in 10 min; noise floor 1.9%; 2 of 3 stacks within" in out
    assert "gevent                720/s  ± 5.6%  [700, 720, 760]" in out
    assert "groups: {uvicorn} > {gevent} > {sync}" in out


def test_two_sittings_are_compared_by_their_groups(tmp_path, capsys):
    a = _sitting(tmp_path / "a", "S1", (700.0, 720.0, 760.0))
    b = _sitting(tmp_path / "b", "S2", (1000.0, 980.0, 1010.0))
    assert main([str(a), str(b)]) == 0
    assert "tie groups differ" in capsys.readouterr().out
    assert main([str(a), str(a)]) == 0
    assert "tie groups the same" in capsys.readouterr().out


def test_a_missing_directory_is_one_line_naming_it(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere" in err
