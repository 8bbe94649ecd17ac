"""Calibrate the fake DB: drive it with k6 at rising constant arrival rates and print
the rate achieved and the latency it adds on top of its sleep."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pyserverbench import ROOT
from pyserverbench.cli.options import OneLineParser
from pyserverbench.cli.types import bounded_int, k6_duration
from pyserverbench.harness.k6 import find_k6, read_summary, run_k6, script_argv
from pyserverbench.harness.procs import Process, free_port, stop_all
from pyserverbench.harness.services import fakedb_argv, wait_ready

SCRIPT = ROOT / "calibrate.js"
HOST = "127.0.0.1"
RATES = (500, 1000, 2000, 4000, 8000)
SLEEPS_MS = (25, 0)
HEADER = ("| sleep | target/s | achieved/s | dropped | p50 | p99 | added p50 | added p99 |\n"
          "|--:|--:|--:|--:|--:|--:|--:|--:|")


def measure_rate(k6: str, url: str, rate: int, duration_s: int, logs: Path) -> dict:
    """One constant-rate k6 run against url; figures in requests/s and milliseconds."""
    summary_path = logs / f"calibrate-{rate}.json"
    argv = script_argv(k6, SCRIPT, summary_path,
                       {"BASE_URL": url, "RATE": rate, "DURATION": f"{duration_s}s"})
    run_k6(argv, logs / f"k6-{rate}.log", duration_s + 60.0, [])
    metrics = read_summary(summary_path)["metrics"]
    duration = metrics["http_req_duration"]
    return {"achieved": metrics["http_reqs"]["rate"],
            "dropped": int(metrics.get("dropped_iterations", {}).get("count", 0)),
            "failed": metrics["http_req_failed"]["passes"],
            "p50": duration["med"], "p99": duration["p(99)"]}


def table_row(sleep_ms: int, rate: int, found: dict) -> str:
    return (f"| {sleep_ms} ms | {rate:,} | {found['achieved']:,.0f} | {found['dropped']:,} | "
            f"{found['p50']:.2f} ms | {found['p99']:.2f} ms | {found['p50'] - sleep_ms:+.2f} ms | "
            f"{found['p99'] - sleep_ms:+.2f} ms |")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="nox -s calibrate --", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=k6_duration, default=10,
                        help="seconds per rate, k6 style (default 10s)")
    parser.add_argument("--max-rate", type=bounded_int(500, 100_000), default=max(RATES),
                        help="highest arrival rate to try (default 8000)")
    args = parser.parse_args(argv)
    k6 = find_k6()
    print(HEADER, flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="pyserverbench-calibrate-") as tmp:
            logs = Path(tmp)
            for sleep_ms in SLEEPS_MS:
                port = free_port(HOST)
                url = f"http://{HOST}:{port}/"
                with Process("fake DB", fakedb_argv(HOST, port, sleep_ms),
                             logs / f"fakedb-{sleep_ms}.log", cwd=ROOT) as db:
                    wait_ready(db, port, url)
                    for rate in (r for r in RATES if r <= args.max_rate):
                        found = measure_rate(k6, url, rate, args.duration, logs)
                        print(table_row(sleep_ms, rate, found), flush=True)
    finally:
        stop_all()
    return 0
