"""What every app shares: the database address, the page and the JSON payload."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2

DB_URL_VARIABLE = "PYSERVERBENCH_DB_URL"
DB_URL = os.environ.get(DB_URL_VARIABLE, "http://127.0.0.1:6161/")
# The dials of `/page?rows=N` and `/fanout?calls=K`; the harness states the same bounds
# in pyserverbench.matrix.workloads (a test holds them equal): the apps import none of it.
MAX_ROWS = 10_000
MAX_CALLS = 50
DEFAULT_CALLS = 3

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
)
_page = _templates.get_template("index.html")
_table_page = _templates.get_template("page.html")
_context = {
    "title": "pyserverbench",
    "tagline": "Servers <compared> & measured",  # exercises autoescaping
    "items": [f"item <{n}>" for n in range(10)],
}


def render_page() -> str:
    """Render the HTML page served at `/` (the CPU-bound path)."""
    return _page.render(_context)


def render_table_page(rows: int) -> str:
    """The page with a table of `rows` rows whose data is built for this request (the
    dial for CPU work per request: `/page?rows=N`)."""
    if rows == 0:
        return render_page()
    data = [{"number": n, "name": f"row <{n}>", "share": (n * 37 % 1000) / 10,
             "total": n * n * 7 % 1_000_003} for n in range(1, rows + 1)]
    return _table_page.render(_context, rows=data)


def query_count(text: str | None, low: int, high: int, default: int) -> int | None:
    """A whole number from a query parameter within [low, high], the default if absent,
    None if it is anything else (the app answers 400)."""
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        return None
    return int(text)


def fanout_body(db_answers: list[dict]) -> bytes:
    """The JSON body of `/fanout`: the number from each fake-DB call, in call order."""
    payload = {"message": "success", "numbers": [a["number"] for a in db_answers]}
    return json.dumps(payload, separators=(",", ":")).encode()


def api_body(db_answer: dict) -> bytes:
    """Build the JSON body served at `/api` from the fake DB's answer."""
    payload = {"message": "success", "number": db_answer["number"]}
    return json.dumps(payload, separators=(",", ":")).encode()
