"""The GIL demo: its pool runs the jobs at once, and it prints one ratio per kind of job."""

import re
import threading

from pyserverbench.devtools.gil_demo import compare, main, on_pool


def test_the_pool_runs_its_jobs_at_the_same_time():
    # Every job waits until all have started: jobs run one after another would break
    # the barrier (BrokenBarrierError) instead of passing it.
    jobs = 4
    barrier = threading.Barrier(jobs, timeout=10)
    on_pool(barrier.wait, jobs)
    assert barrier.n_waiting == 0 and not barrier.broken


def test_compare_times_one_job_and_the_pool_for_both_kinds():
    results = compare(jobs=2, seconds=0.02)
    assert [name for name, _, _ in results] == ["sleep (GIL released)", "loop (GIL held)"]
    assert all(one > 0 and pooled > 0 for _, one, pooled in results)


def test_main_prints_a_ratio_per_kind(capsys):
    assert main(["--jobs", "2", "--seconds", "0.02"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert all(re.search(r"ratio\s+\d+\.\d", line) for line in lines[1:])
