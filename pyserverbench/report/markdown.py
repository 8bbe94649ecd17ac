"""Markdown that no record's text can rewrite. A pipe table escapes `|` in its cells, so
a record's `a|b` stays one cell; a finished page escapes `<`, `>` and `$` everywhere but
in the report's own tags (anchors and folds), so a record's `<script>` is shown, not run,
and a `$x$` is not read as math."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tabulate import tabulate

# Every tag the report writes itself. A record's text matching one adds no behaviour.
OWN_TAGS = re.compile(r'(<a id="[a-z0-9-]+"></a>|</?details>|</?summary>)')


def cell(text: object) -> str:
    """A table cell's text: one line, each `|` not yet escaped escaped."""
    return re.sub(r"(?<!\\)\|", r"\\|", str(text)).replace("\r", " ").replace("\n", " ")


def pipe_table(rows: Sequence[Sequence[object]], headers: Sequence[str],
               align: Sequence[str] | None = None) -> str:
    """A GitHub pipe table of rows, each cell escaped, numbers left as written."""
    return tabulate([[cell(value) for value in row] for row in rows],
                    headers=[cell(header) for header in headers], tablefmt="pipe",
                    colalign=align, disable_numparse=True)


def escaped_page(text: str) -> str:
    """The page with HTML and math marks escaped outside the report's own tags."""
    pieces = OWN_TAGS.split(text)  # odd pieces are our tags
    return "".join(piece if index % 2 else _plain(piece) for index, piece in enumerate(pieces))


CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # a terminal would act on them


def printable(text: str) -> str:
    """text with each control character but tab and newline shown as U+FFFD."""
    return CONTROLS.sub("\ufffd", text)


def _plain(text: str) -> str:
    text = printable(text)
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("$", "\\$")
