"""What a measurement sets up: the CPUs it asks for, and when a start is tried again."""

import os
import socket

from pyserverbench.harness.procs import PortTaken, ProcessError, free_port
from pyserverbench.measure import setup as run_setup
from pyserverbench.measure.capacity import parse_args
from pyserverbench.measure.closed import parse_args as run_args


def test_the_intended_placement_is_what_the_config_asks_for(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    configs, _, _ = parse_args(["--stack", "sync", "--shared-cpus"])
    assert run_setup.intended_placement(configs[0].run) == {
        "server_cpus": [0, 1, 2, 3], "load_cpus": [0, 1, 2, 3], "shared": True,
        "host_cores": 4}
    pinned, _, _ = parse_args(["--stack", "sync"])
    assert run_setup.intended_placement(pinned[0].run) == {
        "server_cpus": [0, 1], "load_cpus": [2, 3], "shared": False, "host_cores": 4}
    chosen, _, _ = parse_args(["--stack", "sync", "--server-cpus", "3"])
    assert run_setup.intended_placement(chosen[0].run) == {
        "server_cpus": [3], "load_cpus": [0, 1, 2], "shared": False, "host_cores": 4}


def test_the_load_side_gets_the_cpus_the_server_does_not(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert run_args(["--stack", "sync", "--server-cpus", "1"]).load_cpus() == {0, 2}
    assert run_args(["--stack", "sync"]).load_cpus() is None


def test_a_start_is_tried_again_only_when_a_port_is_held_by_another_process():
    ours = ProcessError("server exited with code 1")
    free = [free_port(), free_port()]
    assert not run_setup._lost_a_port(ours, free)
    assert run_setup._lost_a_port(PortTaken("answered by another"), free)
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        assert run_setup._lost_a_port(ours, [free[0], squatter.getsockname()[1]])
