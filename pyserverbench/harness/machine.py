"""Facts a record carries so that a reader can judge and repeat it."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
import sys
import sysconfig
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


MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def machine_id() -> str:
    """The OS's own id of this installation (systemd's machine-id), or '' if none."""
    for name in MACHINE_ID_FILES:
        try:
            return Path(name).read_text().strip()
        except OSError:
            continue
    return ""


def host_id(facts: dict, machine: str, hostname: str) -> str:
    """A stable, anonymous identity of this machine: a hash of its machine-id, host
    name, CPU model, core count and memory. Two machines that differ in any of these
    never share an id; the same machine keeps its id across runs and reboots."""
    parts = (machine, hostname, facts["cpu_model"], str(facts["cores"]),
             str(facts["memory_bytes"]))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def host_facts() -> dict:
    """Identity, CPU, cores, memory, OS, kernel and load of this machine right now."""
    facts = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "load_average": list(os.getloadavg()),
    }
    return {"id": host_id(facts, machine_id(), socket.gethostname()), **facts}


def python_facts() -> dict:
    """Full version and build of the running Python."""
    free = free_threaded_build()
    return {
        # a free-threaded build is its own Python entry: 3.13.0t
        "python": platform.python_version() + ("t" if free else ""),
        "python_build": sys.version,
        "python_implementation": platform.python_implementation(),
        "free_threaded": free,
    }


def free_threaded_build() -> bool:
    """True on a Python built without the GIL (3.13t and later)."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


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
