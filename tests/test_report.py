import shutil
import subprocess
import sys
from pathlib import Path

from pyserverbench.report import load_records, render
from pyserverbench.rows import fmt_ms

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent


def test_report_matches_the_saved_expected_output():
    records, _ = load_records(DATA / "runs")
    assert render(records) == (DATA / "expected_report.md").read_text()


def test_bad_files_are_skipped_with_one_warning_each():
    records, warnings = load_records(DATA / "runs")
    assert len(records) == 9
    skipped = sorted(Path(w.split()[1].rstrip(":")).name for w in warnings)
    assert skipped == ["g-truncated.json", "h-empty.json", "i-old-format.json",
                       "j-missing-fields.json"]


def test_rendering_is_deterministic_whatever_the_record_order():
    records, _ = load_records(DATA / "runs")
    assert render(records) == render(list(reversed(records)))


def test_failed_runs_show_their_reason_and_no_numbers():
    records, _ = load_records(DATA / "runs")
    [line] = [line for line in render(records).splitlines() if "gevent" in line]
    assert "**failed**" in line
    assert "server exited with code -9" in line
    assert "worker \\| booted" in line  # a pipe in the reason does not break the table
    assert " ms " not in line and "µs" not in line


def test_rows_are_sorted_by_requests_handled():
    records, _ = load_records(DATA / "runs")
    section = render(records).split("## 2 workers, 25 ms DB latency, Python 3.12.1")[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "Mode" not in line]
    assert [row.split("|")[2].strip() for row in rows] == [
        "uvicorn", "gunicorn[gthread] (1 thread)", "gunicorn", "gunicorn[gevent]"]


def test_no_records_renders_a_hint():
    assert "No records yet" in render([])


def test_durations_use_microseconds_below_one_millisecond():
    assert fmt_ms(0.00584) == "5.84 µs"
    assert fmt_ms(1.02) == "1.02 ms"


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


def _row(name: str) -> str:
    """The row whose Server cell is name, in the 2-worker Python 3.12.1 section."""
    records, _ = load_records(DATA / "runs")
    section = render(records).split("## 2 workers, 25 ms DB latency, Python 3.12.1")[1]
    [line] = [line for line in section.splitlines()
              if line.startswith("| ") and line.split("|")[2].strip() == name]
    return line


def test_repeated_runs_make_one_row_with_median_and_spread():
    cells = [c.strip() for c in _row("uvicorn").split("|")[1:-1]]
    assert cells[3] == "3"  # runs
    assert cells[4] == "13,300"  # the median of 13,100, 13,300 and 13,524
    assert cells[5] == "13,100–13,524 (3%)"
    assert "bounded by the scenario" in cells[-1]


def test_noisy_rows_uneven_splits_and_busy_clients_are_marked():
    sync = _row("gunicorn")
    assert "noisy (spread 25%)" in sync
    assert "uneven worker split in 1 of 2 runs (0.80/0.20)" in sync
    assert "k6 used 0.66 of a core" in _row("uvicorn")


def test_rows_without_usage_show_dashes_not_zeros():
    cells = [c.strip() for c in _row("gunicorn[gthread] (1 thread)").split("|")[1:-1]]
    assert cells[8:11] == ["—", "—", "—"]


def test_runs_with_new_connections_per_iteration_get_their_own_section():
    records, _ = load_records(DATA / "runs")
    changed = [dict(r, connections="per-iteration", id=f"{r['id']}-pi") for r in records]
    text = render(records + changed)
    assert text.count("new connections every iteration") == len(
        {(r["python"], r["workers"]) for r in records})
