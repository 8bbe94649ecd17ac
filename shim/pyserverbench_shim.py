"""Serve a user's own app with our probe around it (`nox -s app`).

The server imports `pyserverbench_wsgi:app` or `pyserverbench_asgi:app`; either loads
the callable named by PYSERVERBENCH_APP_TARGET (`module:attribute`) and wraps it in the
probe of `apps/probe.py`, loaded from its file under a name of its own so that a user's
package called `apps` cannot hide it. Standard library only.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

TARGET_VARIABLE = "PYSERVERBENCH_APP_TARGET"
PROBE_FILE = Path(__file__).resolve().parent.parent / "apps" / "probe.py"
PROBE_MODULE = "pyserverbench_probe"


def _probe():  # noqa: ANN202 (a module)
    if PROBE_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(PROBE_MODULE, PROBE_FILE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[PROBE_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[PROBE_MODULE]


def load(interface: str) -> Callable:
    """The user's app, wrapped by the probe for `interface` (`wsgi` or `asgi`)."""
    module_name, _, attribute = os.environ[TARGET_VARIABLE].partition(":")
    app = importlib.import_module(module_name)
    for part in attribute.split("."):
        app = getattr(app, part)
    return getattr(_probe(), interface)(app)
