"""The user's ASGI app with the probe around it (see pyserverbench_shim)."""

from pyserverbench_shim import load

app = load("asgi")
