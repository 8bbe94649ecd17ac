"""The report as one self-contained HTML page (`results/index.html`): the answer first,
every section's tables sortable, a filter by kind of app, DB latency and stack, the
charts inlined, and the view kept in the URL. Nothing is fetched: scripts, styles and
charts are in the page, and its Content-Security-Policy allows nothing else. The same
records give the same bytes."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pyserverbench.report import capacity, sweep
from pyserverbench.report.answer import COLUMNS as ANSWER_COLUMNS
from pyserverbench.report.answer import INTRO as ANSWER_INTRO
from pyserverbench.report.answer import KIND_CLASSES, answers, kind_class, kind_of, kind_text
from pyserverbench.report.glossary import TERMS, anchor
from pyserverbench.report.markdown import printable
from pyserverbench.report.render import (
    _across_heading,
    _closed_groups,
    _differences,
    _facts,
    _heading,
    _machine_facts,
    across_views,
    capacity_sections,
    headlines,
    search_facts,
)
from pyserverbench.report.rows import ALIGN, COLUMNS, DETAIL_COLUMNS, scenario_tables

HERE = Path(__file__).parent
ANY = ""  # a filter's "all" value


@dataclass
class Table:
    """One table: its headers, rows, and what each row is about (for the filters)."""

    id: str
    headers: list[str]
    rows: list[list[str]]
    stacks: list[list[str]]  # per row: the stacks it is about
    kinds: list[str] = field(default_factory=list)  # per row, where rows differ in kind
    latencies: list[str] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)


@dataclass
class Part:
    """One table of a section, with its own kind and latency, a detail table and a
    chart."""

    title: str
    kind: str
    latency: str
    facts: list[str]
    table: Table
    proof: Table | None
    chart: str | None  # a data: URL


@dataclass
class Block:
    """One section of the report: a heading, its facts, a chart, its parts."""

    id: str
    title: str
    facts: list[str]
    chart: str | None
    parts: list[Part]


def inline(text: str) -> str:
    """The report's Markdown inline marks as HTML, everything else escaped."""
    text = html.escape(text.replace("\\|", "|"), quote=True)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"\[([^\]]+)\]\((#[a-z0-9-]+)\)", r'<a href="\2">\1</a>', text)


def _data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _stack_of(cell: str) -> str:
    return cell.split(" ")[0].strip("`")


def _table(table_id: str, headers: tuple[str, ...] | list[str], rows: list[list[str]],
           align: tuple[str, ...] | None = None, stack_column: int = 1) -> Table:
    return Table(table_id, list(headers), rows, [[_stack_of(row[stack_column])] for row in rows],
                 numeric=[a == "right" for a in (align or ("left",) * len(headers))])


def _capacity_blocks(records: list[dict], charts: dict[str, str]) -> list[tuple[tuple, Block]]:
    blocks = []
    for key, members, title in capacity_sections(records):
        by_latency: dict[int, list[dict]] = defaultdict(list)
        for record in members:
            by_latency[record["db_latency_ms"]].append(record)
        names = capacity.chart_names(key, sorted(by_latency))
        facts = search_facts(members)
        block_id = "capacity-" + names["map"].split("-")[1].split(".")[0]
        parts = []
        for latency, at in sorted(by_latency.items()):
            at = sorted(at, key=lambda r: r["id"])
            main, proof = capacity.latency_tables(at)
            part_id = f"{block_id}-{latency}ms"
            parts.append(Part(
                f"{latency} ms DB latency: goal p99 within {at[0]['capacity']['goal_ms']:g} ms",
                kind_class(kind_of(at[0])), str(latency),
                [f"- {fact}" for fact in capacity.latency_facts(at)],
                _table(part_id, capacity.COLUMNS, main, capacity.ALIGN),
                _table(part_id + "-proof", capacity.DETAIL_COLUMNS, proof, stack_column=0),
                _data_url(charts[names[latency]]) if names[latency] in charts else None))
        blocks.append((key, Block(block_id, f"Capacity, {title}", facts,
                                   _data_url(charts[names["map"]])
                                   if names["map"] in charts else None, parts)))
    return blocks


def _closed_blocks(records: list[dict]) -> list[tuple[tuple, Block]]:
    groups = _closed_groups(records)
    differs = _differences(list(groups))
    blocks = []
    for number, key in enumerate(sorted(groups)):
        members = sorted(groups[key], key=lambda r: r["id"])
        main, proof = scenario_tables(members)
        block_id = f"closed-{number + 1}"
        title = _heading(members[0], differs[key]).removeprefix("## ")
        part = Part(kind_text(members[0]), kind_class(kind_of(members[0])),
                    str(members[0]["db_latency_ms"]), [],
                    _table(block_id + "-table", COLUMNS, main, ALIGN),
                    _table(block_id + "-proof", DETAIL_COLUMNS, proof, stack_column=0), None)
        blocks.append((key, Block(block_id, title, _facts(members), None, [part])))
    return blocks


def _across_blocks(records: list[dict]) -> list[Block]:
    blocks = []
    for number, (_, members, headers, rows) in enumerate(across_views(records), start=1):
        block_id = f"across-{number}"
        table = _table(block_id + "-table", headers, rows,
                       ("left", *("right",) * (len(headers) - 1)), stack_column=0)
        blocks.append(Block(block_id, _across_heading(members[0]).removeprefix("### "),
                            _machine_facts(members), None,
                            [Part("", ANY, str(members[0]["db_latency_ms"]), [], table, None,
                                  None)]))
    return blocks


def _answer_table(records: list[dict]) -> Table:
    found = answers(records)
    table = Table("answer", list(ANSWER_COLUMNS), [a.row() for a in found],
                  [list(a.stacks) for a in found],
                  [kind_class(a.key) for a in found], [str(a.key[3]) for a in found],
                  [False, False, True, True, True, False, False, False])
    return table


def _sweep_blocks(sweeps: list[dict], charts: dict[str, str]) -> list[Block]:
    """A block per sweep section: what to run per stack, then each stack's table."""
    blocks = []
    for key, members in sweep.sweep_sections(sweeps):
        name = sweep.chart_name(key)
        block_id = name.removesuffix(".svg")
        kind, latency = kind_class(kind_of(members[0])), str(members[0]["db_latency_ms"])
        stacks = sweep.by_stack(members)
        rows = [sweep.stack_answer(stack, runs).row for stack, runs in stacks.items()]
        parts = [Part("What to run, per stack", kind, latency, [],
                      _table(block_id + "-answer", sweep.ANSWER_COLUMNS, rows, stack_column=0),
                      None, None)]
        for stack, runs in stacks.items():
            table = sweep.stack_rows(runs)
            parts.append(Part(stack, kind, latency, [], Table(
                f"{block_id}-{stack}", list(sweep.COLUMNS), table, [[stack]] * len(table),
                numeric=[a == "right" for a in sweep.ALIGN]), None, None))
        blocks.append(Block(block_id, sweep.title(members), search_facts(members),
                            _data_url(charts[name]) if name in charts else None, parts))
    return blocks


def ordered_blocks(records: list[dict], charts: dict[str, str]) -> list[Block]:
    """The sections in the Markdown report's order: the headline capacity section, the
    study's closed loop, the sweeps, the rest of each, then the view across Pythons."""
    records, sweeps = sweep.split(records)
    lead_key, study_key = headlines(records)
    blocks = _capacity_blocks(records, charts)
    closed = _closed_blocks(records)
    lead = [b for key, b in blocks if key == lead_key]
    study = [b for key, b in closed if key == study_key]
    for block in study:
        block.title = "The study's closed loop: " + block.title
    rest = [b for key, b in blocks if key != lead_key]
    rest += [b for key, b in closed if key != study_key]
    return lead + study + _sweep_blocks(sweeps, charts) + rest + _across_blocks(records)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def render_html(records: list[dict], charts: dict[str, str]) -> str:
    """The HTML report for these records and their charts (file name -> SVG)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), autoescape=True,
                             keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    from markupsafe import Markup

    env.filters["inline"] = lambda text: Markup(inline(str(text)))  # noqa: S704 (escaped first)
    script = (HERE / "report.js").read_text()  # ours, inlined as it is: its hash is in the
    style = (HERE / "report.css").read_text()  # policy, and neither holds `</`
    blocks = ordered_blocks(records, charts)
    answer = _answer_table(sweep.split(records)[0])
    kinds = sorted({p.kind for b in blocks for p in b.parts if p.kind} | set(answer.kinds),
                   key=_kind_order)
    latencies = sorted({p.latency for b in blocks for p in b.parts}, key=int)
    stacks = sorted({s for b in blocks for p in b.parts for row in p.table.stacks for s in row})
    policy = (f"default-src 'none'; script-src {_hash(script)}; style-src {_hash(style)}; "
              f"img-src data:; base-uri 'none'; form-action 'none'")
    page = env.get_template("report.html.j2").render(
        answer=answer, answer_intro=ANSWER_INTRO, blocks=blocks, kinds=kinds,
        latencies=latencies, stacks=stacks, script=Markup(script), style=Markup(style),  # noqa: S704 (our files)
        policy=policy,
        glossary=[(anchor(term), term, TERMS[term]) for term in sorted(TERMS, key=str.lower)],
        users=bool(records) and all(r.get("user_app") for r in records), count=len(records))
    return printable(page)  # a record's control characters are not HTML


def _kind_order(kind: str) -> tuple:
    known = list(KIND_CLASSES)
    return (known.index(kind), "") if kind in known else (len(known), kind)
