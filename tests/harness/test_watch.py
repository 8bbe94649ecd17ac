"""The machine watched: CPU of processes not ours, pressure, clocks, and when a run counts
as disturbed (the steal share is usage's, tested with the step's)."""

import os
import subprocess
import sys
import time

import pytest

from pyserverbench.harness.watch import (
    FOREIGN_LIMIT,
    Watch,
    clocks,
    cpu_by_process,
    disturbed,
    foreign_cpu_s,
    ours,
    pressure,
)


def test_pressure_reads_some_avg10_or_none(tmp_path):
    (tmp_path / "memory").write_text("some avg10=1.25 avg60=0.50 avg300=0.10 total=99\n"
                                     "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    assert pressure("memory", tmp_path) == 1.25
    assert pressure("cpu", tmp_path) is None


def test_clocks_and_governors_where_cpufreq_shows_them(tmp_path):
    for cpu, khz in (("0", "2400000"), ("1", "1800000")):
        folder = tmp_path / f"cpu{cpu}" / "cpufreq"
        folder.mkdir(parents=True)
        (folder / "scaling_cur_freq").write_text(khz + "\n")
        (folder / "scaling_governor").write_text("performance\n")
    (tmp_path / "cpufreq").mkdir()  # not a CPU
    assert clocks(tmp_path) == {"mhz": {"0": 2400, "1": 1800}, "governors": ["performance"]}
    assert clocks(tmp_path / "none") == {"mhz": {}, "governors": []}


def test_foreign_cpu_counts_what_others_used_and_a_new_process_whole():
    before = {10: (1.0, 5.0), 11: (1.0, 2.0), 12: (1.0, 9.0)}
    after = {10: (1.0, 5.5), 11: (1.0, 2.0), 12: (1.0, 12.0), 13: (50.0, 0.25),
             14: (2.0, 1.0)}
    # 10: +0.5; 12 is ours; 13 is new: whole; 14 is new too (its start differs)
    assert foreign_cpu_s(before, after, mine={12}) == 1.75
    before[14] = (1.5, 0.75)  # pid 14 was another process before: it was reused
    assert foreign_cpu_s(before, after, mine={12}) == 1.75


def test_limits_name_what_passed_them():
    calm = {"steal": 0.01, "foreign_cpus": 0.05, "memory_pressure": None}
    assert disturbed(calm) == []
    noisy = {"steal": 0.09, "foreign_cpus": FOREIGN_LIMIT + 0.4, "memory_pressure": 12.0}
    assert disturbed(noisy) == [
        "CPU steal 9.0% of the run's CPU time (limit 5%)",
        "processes not ours used 0.50 CPUs (limit 0.10)",
        "memory pressure 12.0% (limit 5%)"]


def test_ours_holds_this_process_its_parent_and_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        found = ours()
        assert {os.getpid(), os.getppid(), child.pid} <= found
    finally:
        child.kill()
        child.wait()
    assert os.getpid() in cpu_by_process()


@pytest.mark.processes
def test_a_busy_process_that_is_not_ours_disturbs_the_watch(tmp_path):
    watch = Watch(sorted(os.sched_getaffinity(0)))
    watch.start()
    # a grandchild whose parent exits at once is handed to init: no longer ours
    pid_file = tmp_path / "pid"
    code = ("import os, time\n"
            f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
            "end = time.time() + 1.0\n"
            "while time.time() < end: pass\n"
            "time.sleep(5)\n")
    subprocess.run(["sh", "-c", f"{sys.executable} -c \"$0\" &", code], check=True)
    try:
        deadline = time.monotonic() + 5
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.3)
        facts = watch.facts()
    finally:
        os.kill(int(pid_file.read_text()), 9)
    assert facts["before"]["load_average"] and "memory_available_bytes" in facts["before"]
    assert facts["during"]["foreign_cpu_s"] >= 0.8
    assert any("processes not ours" in d for d in facts["disturbed"])
