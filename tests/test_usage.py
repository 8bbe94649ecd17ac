import sys
import time

from pyserverbench.procs import Process
from pyserverbench.usage import TreeUsage, split_facts

BUSY = "import time\nend = time.time() + 1.0\nwhile time.time() < end: pass\ntime.sleep(30)\n"


def test_an_even_split_is_not_flagged():
    assert split_facts({1: [5, 5], 2: [5, 5]}) == {"shares": [0.5, 0.5], "uneven": False}


def test_a_lopsided_or_empty_worker_is_flagged():
    assert split_facts({1: [8, 8], 2: [2, 2]})["uneven"] is True
    assert split_facts({1: [10], 2: [0]})["uneven"] is True


def test_too_few_connections_to_judge_are_not_flagged():
    assert split_facts({1: [1, 0], 2: [0, 0]})["uneven"] is False
    assert split_facts({})["shares"] == []


def test_tree_usage_counts_cpu_seconds_and_memory_of_a_real_process(tmp_path):
    with Process("busy", [sys.executable, "-c", BUSY], tmp_path / "b.log") as proc:
        usage = TreeUsage(proc.pid)
        usage.sample()
        time.sleep(1.2)
        usage.sample()
    assert 0.5 < usage.cpu_seconds() < 1.5
    assert usage.peak_total_rss > 1_000_000
