"""`python -m pyserverbench report`: render the records into results/README.md, its
charts and results/index.html, all rendered before any is written."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from pyserverbench import RESULTS, RUNS
from pyserverbench.cli.options import OneLineParser
from pyserverbench.records import read_records, write_text
from pyserverbench.report.html import render_html
from pyserverbench.report.render import (
    all_charts,
    answer_since,
    joined,
    remove_stale_charts,
    sections,
    shown_since,
    sweeps_since,
)


def build_parser() -> OneLineParser:
    """The options of `report`."""
    parser = OneLineParser(prog="python -m pyserverbench report",
                           description="Render results/runs/*.json into Markdown.")
    parser.add_argument("--runs-dir", type=Path, default=RUNS)
    parser.add_argument("--output", type=Path, default=RESULTS / "README.md")
    parser.add_argument("--show-since", type=_instant, default=None,
                        help="also print, here, the sections holding records started at or "
                             "after this UTC time (the sessions that ran them pass it)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.runs_dir.is_dir():
        print(f"error: --runs-dir {args.runs_dir} is not a directory", file=sys.stderr)
        return 2
    problem = output_problem(args.output)
    if problem:
        print(f"error: --output {args.output} {problem}", file=sys.stderr)
        return 2
    records, warnings = read_records(args.runs_dir)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    drawn = all_charts(records)
    page = render_html(records, drawn)  # everything is rendered before anything is written
    parts = sections(records)
    text = joined(parts)
    charts = write_report(args.output, text, page, drawn)
    print(f"wrote {os.path.relpath(args.output)} and index.html beside it: {len(records)} "
          f"records, {len(warnings)} skipped, {len(charts)} charts")
    if args.show_since is not None:
        found = shown_since(parts, args.show_since)
        print("", *found, sep="\n")
        if not found:
            print(f"No record here started at or after {args.show_since}.")
        else:
            answer = answer_since(records, args.show_since)
            if answer:
                print("## The answer, for what this session measured", "", answer, "",
                      sep="\n")
            for title, table in sweeps_since(records, args.show_since):
                print(f"## What to run, {title}", "", table, "", sep="\n")
        print(f"The full report: {args.output.resolve()}")
    return 0


def output_problem(output: Path) -> str | None:
    """Why the report cannot be written at output, in words, or None."""
    if output.is_dir():
        return "is a directory (give the Markdown file's path, like results/README.md)"
    if not output.parent.is_dir():
        return f"is in {output.parent}, which is not a directory"
    if output.name == "index.html" or output.suffix == ".svg":
        return "would be overwritten by the HTML report or a chart (give a .md path)"
    if not os.access(output.parent, os.W_OK | os.X_OK):
        return f"is in {output.parent}, which this user cannot write to"
    return None


def write_report(output: Path, text: str, page: str, charts: dict[str, str]) -> list[Path]:
    """Write the Markdown, index.html and the charts beside it, all or nothing: each is
    written in full into a hidden directory beside them before any replaces its old copy
    (a rename each), and then the charts of sections that are gone are removed. Returns
    the charts' paths."""
    directory = output.parent
    staged = Path(tempfile.mkdtemp(dir=directory, prefix=".report-"))
    try:
        files = {**charts, "index.html": page, output.name: text}
        for name, content in files.items():
            write_text(staged / name, content)
        for name in files:
            os.replace(staged / name, directory / name)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return remove_stale_charts(directory, charts)


def _instant(text: str) -> str:
    """A UTC time as records write it: 2026-11-25T01:02:03+00:00."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None or moment.utcoffset().total_seconds():
        raise argparse.ArgumentTypeError(f"{text!r} is not a UTC time (accepted: like "
                                         f"2026-11-25T01:02:03+00:00)")
    return moment.isoformat(timespec="seconds")
