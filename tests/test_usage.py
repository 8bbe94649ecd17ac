import os
import socket
import sys
import threading
import time
import types

import pytest

from pyserverbench.procs import Process
from pyserverbench.usage import LoadMonitor, TreeUsage, split_facts

BUSY = "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass\ntime.sleep(30)\n"


def test_an_even_split_is_not_flagged():
    assert split_facts({1: [5, 5], 2: [5, 5]}) == {"shares": [0.5, 0.5], "uneven": False}


def test_a_lopsided_or_empty_worker_is_flagged():
    assert split_facts({1: [8, 8], 2: [2, 2]})["uneven"] is True
    assert split_facts({1: [10], 2: [0]})["uneven"] is True


def test_too_few_connections_to_judge_are_not_flagged():
    assert split_facts({1: [1, 0], 2: [0, 0]})["uneven"] is False
    assert split_facts({})["shares"] == []


@pytest.mark.processes
def test_tree_usage_counts_cpu_seconds_and_memory_of_a_real_process(tmp_path):
    with Process("busy", [sys.executable, "-c", BUSY], tmp_path / "b.log") as proc:
        usage = TreeUsage(proc.pid)
        usage.sample()
        time.sleep(1.2)
        usage.sample()
    assert 0.5 < usage.cpu_seconds() < 1.5
    assert usage.peak_total_rss > 1_000_000


def test_split_boundaries():
    assert split_facts({1: [3], 2: [2]})["uneven"] is False  # 1.5 exactly is still even
    assert split_facts({1: [1], 2: [2]}) == {"shares": [0.667, 0.333], "uneven": True}
    assert split_facts({1: [2], 2: [0]})["uneven"] is True  # two connections: enough to judge
    assert split_facts({1: [1], 2: [0]})["uneven"] is False  # one is not
    assert split_facts({1: [9]}) == {"shares": [1.0], "uneven": False}  # one worker
    assert split_facts({1: [], 2: [4]}) == {"shares": [1.0, 0.0], "uneven": True}


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_tree_usage_of_this_process_matches_its_own_clock():
    pid = os.getpid()
    usage = TreeUsage(pid)
    usage.sample()
    start = time.process_time()
    _burn(0.3)
    usage.sample()
    burned = time.process_time() - start
    assert usage.cpu_seconds(pid) == pytest.approx(burned, abs=0.03)
    assert usage.cpu_seconds() >= usage.cpu_seconds(pid)  # the tree holds at least this one
    assert usage.cpu_seconds(pid + 10**7) == 0  # a pid never sampled adds nothing
    assert usage.peak_rss[pid] > 10 * 2**20 and usage.peak_total_rss >= usage.peak_rss[pid]
    assert usage.peak_threads[pid] >= threading.active_count()  # OS threads include Python's


def test_the_load_monitor_counts_a_workers_connections_and_cpu():
    pid = os.getpid()
    me = types.SimpleNamespace(pid=pid)  # the server, the fake DB and the one worker
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        accepted = [listener.accept()[0] for _ in clients]
        try:
            monitor = LoadMonitor(me, port, me, [pid], cpu_interval_s=0.0,
                                  connection_interval_s=3600)
            monitor.tick(me)
            _burn(0.2)
            monitor.tick(me)  # CPU sampled again, connections not (interval not over)
        finally:
            for s in clients + accepted:
                s.close()
    assert monitor.connections == {pid: [2]}
    facts = monitor.facts(k6_wall_s=1.234)
    [worker] = facts["server"]["workers"]
    assert worker["pid"] == pid and worker["connections_mean"] == 2.0
    assert worker["cpu_s"] >= 0.15 and facts["server"]["cpu_s"] >= worker["cpu_s"]
    assert worker["peak_rss_bytes"] == monitor.server.peak_rss[pid] > 0
    assert facts["server"]["peak_rss_bytes"] == monitor.server.peak_total_rss
    assert facts["server"]["processes"] == len(monitor.server.last_cpu) >= 1
    assert facts["fakedb"]["cpu_s"] >= 0.15
    assert facts["k6"]["wall_s"] == 1.23 and facts["k6"]["cpu_s"] >= 0
    assert facts["window_s"] >= 0.19
    assert facts["connections"] == {"shares": [1.0], "uneven": False}


def test_a_worker_gone_during_the_load_counts_no_connections():
    me = types.SimpleNamespace(pid=os.getpid())
    gone = 2**22 + 12345  # above the kernel's pid limit: never a live process
    monitor = LoadMonitor(me, 1, me, [gone])
    monitor.tick(me)
    assert monitor.connections == {gone: [0]}
    [worker] = monitor.facts(1.0)["server"]["workers"]
    assert worker == {"pid": gone, "cpu_s": 0, "peak_rss_bytes": 0, "connections_mean": 0.0}
