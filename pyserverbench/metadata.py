"""Facts a record carries so that a reader can judge and repeat it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import psutil


def cpu_model() -> str:
    """The CPU model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def host_facts() -> dict:
    """CPU, cores, memory, OS and load of this machine right now."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "kernel": platform.release(),
        "load_average": list(os.getloadavg()),
    }


def python_facts() -> dict:
    """Full version and build of the running Python."""
    return {
        "python": platform.python_version(),
        "python_build": sys.version,
        "python_implementation": platform.python_implementation(),
    }


def installed_packages() -> dict[str, str]:
    """Every distribution installed in this environment, name -> version."""
    found = {dist.metadata["Name"].lower(): dist.version for dist in metadata.distributions()}
    return dict(sorted(found.items()))


def git_facts(root: Path) -> dict:
    """The project's commit and whether the work tree had changes; empty without git."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args],  # noqa: S607 - the git on PATH
                capture_output=True, text=True, timeout=10, check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results")
    return {"commit": commit, "dirty": bool(status)}
