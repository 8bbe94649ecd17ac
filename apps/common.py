"""What every app shares: the database address, the page and the JSON payload."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2

DB_URL_VARIABLE = "PYSERVERBENCH_DB_URL"
DB_URL = os.environ.get(DB_URL_VARIABLE, "http://127.0.0.1:6161/")

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
)
_page = _templates.get_template("index.html")
_context = {
    "title": "pyserverbench",
    "tagline": "Servers <compared> & measured",  # exercises autoescaping
    "items": [f"item <{n}>" for n in range(10)],
}


def render_page() -> str:
    """Render the HTML page served at `/` (the CPU-bound path)."""
    return _page.render(_context)


def api_body(db_answer: dict) -> bytes:
    """Build the JSON body served at `/api` from the fake DB's answer."""
    payload = {"message": "success", "number": db_answer["number"]}
    return json.dumps(payload, separators=(",", ":")).encode()
