"""The study's thread-pool illustration: threads overlap waiting, not Python work.

Ten jobs run on a ten-thread pool, once sleeping (the GIL is released while a
thread sleeps) and once looping in pure Python (the GIL is held). Each total is
printed beside one job's time: about 1x for sleeping, about 10x for looping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pyserverbench.cli.options import OneLineParser
from pyserverbench.cli.types import bounded_float, bounded_int


def sleep_job(seconds: float) -> None:
    time.sleep(seconds)


def loop_job(count: int) -> None:
    total = 0
    for number in range(count):
        total += number


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def on_pool(job: Callable[[], None], jobs: int) -> float:
    """Seconds to run `jobs` copies of job on a pool of as many threads."""

    def run_all() -> None:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in [pool.submit(job) for _ in range(jobs)]:
                future.result()

    return timed(run_all)


def loops_for(seconds: float) -> int:
    """How many loop steps take about `seconds` on this machine."""
    probe = 200_000
    return max(1, int(probe * seconds / timed(lambda: loop_job(probe))))


def compare(jobs: int, seconds: float) -> list[tuple[str, float, float]]:
    """(name, one job's time, all jobs' time on the pool) for sleeping and looping."""
    count = loops_for(seconds)
    results = []
    for name, job in (("sleep (GIL released)", lambda: sleep_job(seconds)),
                      ("loop (GIL held)", lambda: loop_job(count))):
        results.append((name, timed(job), on_pool(job, jobs)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="nox -s asyncable --", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=bounded_int(1, 64), default=10,
                        help="jobs and threads (1 to 64, default 10)")
    parser.add_argument("--seconds", type=bounded_float(0.01, 10), default=0.5,
                        help="length of one job in seconds (0.01 to 10, default 0.5)")
    args = parser.parse_args(argv)
    print(f"{args.jobs} jobs on a {args.jobs}-thread pool, each about {args.seconds:g} s alone")
    for name, one, pooled in compare(args.jobs, args.seconds):
        print(f"{name:22} one job {one:6.3f} s   {args.jobs} jobs {pooled:6.3f} s   "
              f"ratio {pooled / one:5.1f}")
    return 0
