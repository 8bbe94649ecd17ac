"""The commands of `python -m pyserverbench`, each one module's entry point (imported only
when its command runs, so a report never loads the harness)."""

from __future__ import annotations

import importlib

from pyserverbench.cli.options import fail

# command -> "module:function"; the function takes the rest of the command line.
COMMANDS = {
    "run": "pyserverbench.measure.closed:main",
    "capacity": "pyserverbench.measure.capacity:main",
    "report": "pyserverbench.report.main:main",
    "asyncable": "pyserverbench.devtools.gil_demo:main",
    "interrupts": "pyserverbench.devtools.interrupts:main",
    "calibrate": "pyserverbench.devtools.calibrate:main",
    "knee": "pyserverbench.devtools.knee:main",
    "mutants": "pyserverbench.devtools.mutation:main",
    "compare": "pyserverbench.compare.compare:main",
    "matrix": "pyserverbench.devtools.ci_sessions:main",
    "db-role": "pyserverbench.measure.roles:db_main",
    "server-role": "pyserverbench.measure.roles:server_main",
    "load-role": "pyserverbench.measure.load_role:main",
    "app": "pyserverbench.measure.app:main",
    "sitting": "pyserverbench.sitting.run:main",
    "sitting-summary": "pyserverbench.devtools.sitting_summary:main",
}


def main(argv: list[str]) -> int:
    """Run the command argv names with the rest of argv; one line if it names none."""
    if not argv or argv[0] not in COMMANDS:
        given = repr(argv[0]) if argv else "nothing"
        fail(f"unknown command {given} (accepted: {', '.join(COMMANDS)})")
    module, _, function = COMMANDS[argv[0]].partition(":")
    return getattr(importlib.import_module(module), function)(argv[1:])
