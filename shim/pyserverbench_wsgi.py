"""The user's WSGI app with the probe around it (see pyserverbench_shim)."""

from pyserverbench_shim import load

app = load("wsgi")
