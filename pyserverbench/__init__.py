"""pyserverbench: benchmark Python WSGI and ASGI servers and worker models under k6 load."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: apps/, fakedb/, the k6 scripts
RESULTS = ROOT / "results"  # the committed reference: runs/*.json, README.md, charts
RUNS = RESULTS / "runs"
