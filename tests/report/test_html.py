"""The HTML report without a browser: the same bytes from the same records, the answer
first, nothing a record holds run as markup, and a policy that admits only its own
script and style."""

from __future__ import annotations

import base64
import hashlib
import html
import re

from helpers import DATA, capacity_record

from pyserverbench.records import read_records
from pyserverbench.report.html import inline, render_html
from pyserverbench.report.render import all_charts


def _records() -> list[dict]:
    records, _ = read_records(DATA / "runs")
    return records + [capacity_record(stack, 25, rps, number=n)
                      for stack, rps in (("uvicorn", 1000.0), ("sync", 200.0))
                      for n in (1, 2, 3)]


def test_the_same_records_give_the_same_bytes_whatever_their_order():
    records = _records()
    page = render_html(records, all_charts(records))
    assert page == render_html(list(reversed(records)), all_charts(records))
    assert page.index('id="the-answer"') < page.index('id="capacity-')
    assert page.index('id="capacity-') < page.index('id="closed-')


def test_the_policy_admits_exactly_the_inlined_script_and_style():
    page = render_html(_records(), {})
    policy = html.unescape(re.search(r'Content-Security-Policy" content="([^"]+)"',
                                     page).group(1))
    assert "default-src 'none'" in policy and "img-src data:" in policy
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        body = re.search(f"<{tag}>(.*?)</{tag}>", page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in policy


def test_text_from_records_is_escaped_and_only_our_marks_become_markup():
    assert inline("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert inline("`uvicorn` **failed** a \\| b") == (
        "<code>uvicorn</code> <strong>failed</strong> a | b")
    assert inline("[Group](#term-group)") == '<a href="#term-group">Group</a>'
    assert inline("[x](https://example.com)") == "[x](https://example.com)"  # no outside link
    record = capacity_record("uvicorn", 25, 1000.0)
    record["packages"] = {"uvicorn": "<script>alert(1)</script>"}
    assert "<script>alert(1)" not in render_html([record], {})
