"""What a user reads of every command's options (`--help`), against the saved copies in
tests/data/options/: a help text, default, bound or choice changed by accident fails."""

import json

import pytest
from helpers import DATA, ROOT

from pyserverbench.cli.capacity_options import build_parser as capacity_parser
from pyserverbench.compare.compare import build_parser as compare_parser
from pyserverbench.devtools.ci_sessions import build_parser as matrix_parser
from pyserverbench.measure.app import build_parser as app_run_parser
from pyserverbench.measure.closed import build_parser as run_parser
from pyserverbench.measure.load_role import build_parser as load_role_parser
from pyserverbench.measure.roles import db_parser, server_parser
from pyserverbench.measure.userapp import build_parser as app_session_parser
from pyserverbench.report.main import build_parser as report_parser
from pyserverbench.sitting.run import build_parser as sitting_parser

PARSERS = {"run": run_parser, "capacity": capacity_parser, "app-session": app_session_parser,
           "app": app_run_parser, "db-role": db_parser, "server-role": server_parser,
           "load-role": load_role_parser, "report": report_parser, "compare": compare_parser,
           "matrix": matrix_parser, "sitting": sitting_parser}


def options(parser) -> dict:
    """Each option as --help shows it: its help, choices, default, bounds and type."""
    found = {"prog": parser.prog, "description": parser.description}
    for action in parser._actions:
        found[(action.option_strings or [action.dest])[-1]] = {
            "help": action.help, "choices": list(action.choices or []),
            "required": action.required, "default": str(action.default).replace(str(ROOT),
                                                                                 "ROOT"),
            "type": getattr(action.type, "__name__", None), "metavar": action.metavar,
            "dest": action.dest}
    return found


@pytest.mark.parametrize("command", PARSERS)
def test_the_options_a_user_reads_are_the_saved_ones(command):
    saved = json.loads((DATA / "options" / f"{command}.json").read_text())
    assert options(PARSERS[command]()) == saved
