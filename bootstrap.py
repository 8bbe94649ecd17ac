"""Make nox ready in a private virtual environment: `python3 bootstrap.py`, then
`.venv-nox/bin/nox ...`.

Works with any Python 3.10+ as `python3`, including a system Python that refuses
`pip install` (PEP 668) or lacks ensurepip (Debian and Ubuntu without python3-venv):
nox, pinned, goes into `.venv-nox/` beside this file, never into the system. A later
call finds it ready and does nothing. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv-nox"
NOX = "nox[uv]==2026.10.20"
PIP = "26.0.1"  # fetched from PyPI only where this Python has no ensurepip
PIP_INDEX = "https://pypi.org/simple/pip/"  # PyPI's JSON simple API (PEP 691)


def say(message: str) -> None:
    print(f"bootstrap: {message}", file=sys.stderr, flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ready() -> bool:
    marker = VENV / "requirement.txt"
    return venv_python().exists() and marker.exists() and marker.read_text().strip() == NOX


def fetch_pip_wheel(directory: Path) -> Path:
    """The pip wheel from PyPI, checked against the digest PyPI publishes for it."""
    request = urllib.request.Request(
        PIP_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        files = json.load(answer)["files"]
    [wheel] = [f for f in files if f["filename"] == f"pip-{PIP}-py3-none-any.whl"]
    target = directory / wheel["filename"]
    with urllib.request.urlopen(wheel["url"], timeout=120) as answer:  # noqa: S310
        target.write_bytes(answer.read())
    if hashlib.sha256(target.read_bytes()).hexdigest() != wheel["hashes"]["sha256"]:
        raise SystemExit(f"bootstrap: {wheel['filename']} does not match PyPI's sha256")
    return target


def create() -> None:
    """A fresh virtual environment holding pip and nox."""
    shutil.rmtree(VENV, ignore_errors=True)
    say(f"creating {VENV.name}/ with {NOX} (once)")
    made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True,
                          text=True, check=False)
    if made.returncode == 0:
        subprocess.run([str(venv_python()), "-m", "pip", "install", "--quiet", NOX], check=True)
    else:  # no ensurepip: a venv without pip, then pip run from its wheel
        say("this Python has no ensurepip; fetching pip's wheel from PyPI instead")
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(VENV)], check=True)
        with tempfile.TemporaryDirectory() as scratch:
            wheel = fetch_pip_wheel(Path(scratch))
            subprocess.run([str(venv_python()), str(wheel / "pip"), "install", "--quiet",
                            f"pip=={PIP}", NOX], check=True)
    (VENV / "requirement.txt").write_text(NOX + "\n")


def main() -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - python3 may be older than ours
        raise SystemExit(f"bootstrap: Python 3.10 or newer is needed, this is "
                         f"{sys.version.split()[0]}")
    if not ready():
        create()


if __name__ == "__main__":
    main()
