"""`python -m pyserverbench COMMAND ...` (the commands: pyserverbench/cli/commands.py)."""

import sys

from pyserverbench.cli.commands import main

raise SystemExit(main(sys.argv[1:]))
