"""The CPU speed reading: a fixed task, timed on the CPUs asked for, affinity restored."""

import os

from pyserverbench.harness.speed import cpu_speed, task


def test_the_task_is_fixed_work():
    assert task(1000) == task(1000)
    assert task(1000) != task(1001)


def test_the_speed_is_timed_on_the_cpus_asked_for_and_the_affinity_restored(monkeypatch):
    usable = os.sched_getaffinity(0)
    seen = []
    real = os.sched_setaffinity
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: (seen.append(set(cpus)),
                                                                    real(pid, cpus)))
    one = {min(usable)}
    found = cpu_speed(one, rounds=3)
    assert seen == [one, usable]
    assert os.sched_getaffinity(0) == usable
    assert found["cpus"] == sorted(one)
    assert 0 < found["task_ms"] <= found["median_ms"]
    assert found["wall_over_cpu"] >= 0.9


def test_without_cpus_it_runs_where_it_is():
    found = cpu_speed(None, rounds=1)
    assert found["cpus"] == sorted(os.sched_getaffinity(0))
