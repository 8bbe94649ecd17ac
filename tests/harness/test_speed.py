"""The CPU speed reading: a fixed task, timed on the CPUs asked for, affinity restored."""

import math
import os

import pytest

from pyserverbench.harness import speed
from pyserverbench.harness.speed import (
    SpeedProbe,
    cpu_speed,
    probe_ms,
    search_speed,
    slowdown,
    task,
)


def test_the_task_is_fixed_work():
    assert task(1000) == task(1000)
    assert task(1000) != task(1001)


@pytest.fixture
def seen(monkeypatch) -> list[set[int]]:
    """Every affinity set while the test runs, in order (and set for real)."""
    calls: list[set[int]] = []
    real = os.sched_setaffinity
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: (calls.append(set(cpus)),
                                                                    real(pid, cpus)))
    return calls


def test_the_speed_is_timed_on_the_cpus_asked_for_and_the_affinity_restored(seen):
    usable = os.sched_getaffinity(0)
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


def test_a_probe_is_cpu_time_on_the_cpus_asked_for(seen):
    usable = os.sched_getaffinity(0)
    one = {min(usable)}
    assert probe_ms(one, turns=2000) > 0
    assert seen == [one, usable]
    assert os.sched_getaffinity(0) == usable


def test_the_probe_runs_at_most_every_interval_and_keeps_the_fastest(monkeypatch):
    times = iter([0.0, 0.1, 0.6, 0.7, 1.2])
    made = iter([2.0, 1.5, 3.0])
    monkeypatch.setattr(speed.time, "monotonic", lambda: next(times))
    monkeypatch.setattr(speed, "probe_ms", lambda cpus: next(made))
    probe = SpeedProbe(None, every_s=0.5)
    for _ in range(5):
        probe.tick()
    assert probe.take() == [2.0, 1.5, 3.0]  # at 0.0, 0.6 and 1.2
    assert probe.take() == []
    assert probe.fastest == 1.5


def test_a_slowdown_is_the_median_over_the_fastest():
    assert slowdown([2.0, 3.0, 7.0], 1.5) == 2.0  # the median, not the mean
    assert slowdown([1.5], 1.5) == 1.0
    assert slowdown([], 1.5) is None
    assert slowdown([2.0], math.inf) is None


def test_a_search_speed_spans_its_probed_steps():
    steps = [{"speed": {"median_ms": 2.5}}, {"speed": {"median_ms": 1.4}},
             {"speed": {"median_ms": None}}, {}, {"speed": {"median_ms": 2.0}}]
    assert search_speed(steps) == {"median_ms": 2.0, "fastest_ms": 1.4, "slowest_ms": 2.5}
    assert search_speed([{}]) is None
