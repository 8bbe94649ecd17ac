"""`python -m pyserverbench COMMAND ...`: run, capacity, report, compare and the tools."""

import sys

from pyserverbench.cli.options import fail


def main(argv: list[str]) -> int:
    commands = ("run", "capacity", "report", "asyncable", "interrupts", "calibrate", "mutants",
                "compare", "matrix", "db-role", "server-role", "load-role", "app")
    if not argv or argv[0] not in commands:
        given = repr(argv[0]) if argv else "nothing"
        fail(f"unknown command {given} (accepted: {', '.join(commands)})")
    command, rest = argv[0], argv[1:]
    if command == "run":
        from pyserverbench.measure.closed import main as run_main

        return run_main(rest)
    if command == "app":
        from pyserverbench.measure.app import main as app_main

        return app_main(rest)
    if command == "capacity":
        from pyserverbench.measure.capacity import main as capacity_main

        return capacity_main(rest)
    if command == "report":
        from pyserverbench.report.render import main as report_main

        return report_main(rest)
    if command == "compare":
        from pyserverbench.compare.compare import main as compare_main

        return compare_main(rest)
    if command in ("db-role", "server-role"):
        from pyserverbench.measure.roles import db_main, server_main

        return (db_main if command == "db-role" else server_main)(rest)
    if command == "load-role":
        from pyserverbench.measure.load_role import main as load_main

        return load_main(rest)
    if command == "matrix":
        from pyserverbench.devtools.ci_sessions import main as matrix_main

        return matrix_main(rest)
    if command == "calibrate":
        from pyserverbench.devtools.calibrate import main as calibrate_main

        return calibrate_main(rest)
    if command == "interrupts":
        from pyserverbench.devtools.interrupts import main as interrupts_main

        return interrupts_main(rest)
    if command == "mutants":
        from pyserverbench.devtools.mutation import main as mutants_main

        return mutants_main(rest)
    from pyserverbench.devtools.gil_demo import main as asyncable_main

    return asyncable_main(rest)


raise SystemExit(main(sys.argv[1:]))
