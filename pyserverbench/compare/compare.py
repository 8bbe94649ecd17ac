"""Compare two selections of records, configuration by configuration: both medians, the
change, and a verdict that weighs the spread (Welch's t-test at 95%, after pyperf compare_to)."""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pyserverbench import RUNS
from pyserverbench.cli.options import OneLineParser
from pyserverbench.cli.types import bounded_float
from pyserverbench.compare.stats import significant
from pyserverbench.matrix.workloads import from_record
from pyserverbench.records import is_capacity, placement_key, read_records
from pyserverbench.report.markdown import printable

FASTER, SLOWER, SAME, FEW = "faster", "slower", "no significant difference", "too few runs"

# Filter keys: how each reads a record (a package's name reads its installed version).
FIELDS = {
    "python": lambda r: r["python"],
    "stack": lambda r: r["stack"],
    "workers": lambda r: str(r["workers"]),
    "db_latency": lambda r: str(r["db_latency_ms"]),
    "kind": lambda r: "capacity" if is_capacity(r) else "closed",
    "workload": lambda r: from_record(r).label(),
    "host": lambda r: str(r["host"].get("id")),
    "commit": lambda r: str((r.get("project") or {}).get("commit")),
}
PREFIXED = {"host", "commit"}  # a short id or commit is enough; python=3.12 takes 3.12.1


@dataclass(frozen=True)
class Selection:
    """Records picked by one side of a comparison, and the fields its filters named."""

    label: str
    records: list[dict]
    named: frozenset[str]


def _matches(record: dict, key: str, value: str) -> bool:
    if key not in FIELDS:
        return (record.get("packages") or {}).get(key) == value
    found = FIELDS[key](record)
    if key == "python":
        return found == value or found.startswith(value + ".")
    return found == value or (key in PREFIXED and found.startswith(value))


def select(text: str, runs_dir: Path) -> Selection:
    """A directory's records, or the records in runs_dir that pass every `key=value`
    filter of text (comma-separated). Raises ValueError naming what is wrong."""
    path = Path(text)
    if path.is_dir():
        records, _ = read_records(path)
        if not records:
            raise ValueError(f"directory {text!r} holds no usable record")
        return Selection(text, records, frozenset())
    records, _ = read_records(runs_dir)
    known = {name for r in records for name in r.get("packages") or {}}
    filters = []
    for part in text.split(","):
        key, equals, value = part.partition("=")
        if not equals or not value or (key not in FIELDS and key not in known):
            raise ValueError(
                f"{text!r} is neither a directory nor filters key=value (keys: "
                f"{', '.join(FIELDS)}, or an installed package's name such as gunicorn)")
        filters.append((key, value))
    chosen = [r for r in records if all(_matches(r, k, v) for k, v in filters)]
    if not chosen:
        raise ValueError(f"{text!r} matches no record in {runs_dir}")
    return Selection(text, chosen, frozenset(k for k, _ in filters))


def configuration(record: dict, named: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """What must be equal for two records to be compared, less the fields a filter named
    (comparing python=3.12 with python=3.13 pairs the same stack across Pythons)."""
    fields = {"kind": FIELDS["kind"](record), "stack": record["stack"],
              "workers": str(record["workers"]), "threads": str(record.get("threads")),
              "python": record["python"], "workload": from_record(record).label(),
              "db_latency": str(record["db_latency_ms"]),
              "placement": placement_key(record)}
    app = record.get("user_app")
    if app:  # a user's app (`nox -s app`): never paired with another app or load
        fields["app"] = f"app {app['name']} ({app['key']})"
    if is_capacity(record):
        c = record["capacity"]
        fields.update(mix=c["mix"], goal_ms=f"{c['goal_ms']:g}", step_s=str(c["step_s"]))
    else:
        fields.update(vus=str(record["vus"]), duration_s=str(record["duration_s"]),
                      connections=record.get("connections", "kept"))
    return tuple((k, v) for k, v in fields.items() if k not in named)


UNITS = {"rps": "Req/s, higher is better",
         "cpu": "Server CPU ms per request, lower is better"}
METRICS = tuple(UNITS)  # req/s (higher is better); server CPU ms per request (lower)


def value(record: dict, metric: str = "rps") -> float | None:
    """The figure compared: capacity or closed-loop req/s, or the server's CPU ms per
    request (None where a record did not measure it)."""
    if is_capacity(record):
        found = record["capacity"]["rps" if metric == "rps" else "cpu_s_per_1000"]
    elif metric == "rps":
        found = record["metrics"]["rps"]
    else:
        cpu = (record.get("usage") or {}).get("server", {}).get("cpu_s")
        requests = record["metrics"]["requests"]
        found = 1000 * cpu / requests if cpu and requests else None
    return found


def verdict(a: list[float], b: list[float], resolution: float = 0.0,
            lower_is_better: bool = False) -> str:
    """B against A: faster, slower, no significant difference, or too few runs. A change
    within `resolution` (a capacity search's own step, as a fraction) is no difference."""
    if len(a) < 2 or len(b) < 2:
        return FEW
    change = statistics.median(b) / statistics.median(a) - 1
    if abs(change) <= resolution or not significant(a, b):
        return SAME
    return FASTER if (change < 0 if lower_is_better else change > 0) else SLOWER


@dataclass(frozen=True)
class Row:
    """One configuration measured on one host in both selections."""

    name: str
    host: str
    a: list[float]
    b: list[float]
    failed: int
    verdict: str
    pooled: list[str]  # `B pools 2 commits`: runs of several sittings share a side

    @property
    def change(self) -> float:
        return statistics.median(self.b) / statistics.median(self.a) - 1


def _name(config: tuple[tuple[str, str], ...]) -> str:
    """A short name: `closed sync w2 page (0 rows) 0 ms 10 VUs 20 s` (fields a filter
    named are left out, as they are in the key)."""
    c = dict(config)
    words = [c.get("kind"), c.get("stack"), c.get("app"),
             c.get("python") and f"py{c['python']}",
             c.get("workers") and f"w{c['workers']}",
             c.get("threads", "None") != "None" and f"t{c['threads']}",
             c.get("workload"), c.get("db_latency") and f"{c['db_latency']} ms",
             c.get("vus") and f"{c['vus']} VUs", c.get("duration_s") and f"{c['duration_s']} s",
             c.get("connections", "kept") != "kept" and "new connections",
             c.get("goal_ms") and f"goal {c['goal_ms']} ms", c.get("mix")]
    return " ".join(word for word in words if word)


def _groups(selection: Selection, named: frozenset[str]) -> dict[tuple, dict[str, list]]:
    groups: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for record in selection.records:
        groups[configuration(record, named)][FIELDS["host"](record)].append(record)
    return groups


def compare(a: Selection, b: Selection,
            metric: str = "rps") -> tuple[list[Row], list[str], dict[str, int]]:
    """Rows for the configurations both selections measured on a common host; one line
    for each one measured only on different hosts; counts of the unmatched."""
    named = a.named | b.named
    left, right = _groups(a, named), _groups(b, named)
    rows, refused = [], []
    for config in sorted(set(left) & set(right)):
        common = sorted(set(left[config]) & set(right[config]))
        if not common:
            refused.append(f"not compared, measured on different hosts (A on "
                           f"{', '.join(sorted(left[config]))}; B on "
                           f"{', '.join(sorted(right[config]))}): {_name(config)}")
        for host in common:
            runs_a, runs_b = left[config][host], right[config][host]
            # A change is a ratio: a figure of 0 (a search that passed no rate) has none.
            good_a = [v for r in runs_a if r["ok"] and (v := value(r, metric) or 0) > 0]
            good_b = [v for r in runs_b if r["ok"] and (v := value(r, metric) or 0) > 0]
            failed = sum(not r["ok"] for r in runs_a + runs_b)
            if not good_a or not good_b:
                refused.append(f"not compared, no successful run with a figure above 0 in "
                               f"{'A' if not good_a else 'B'}: {_name(config)}")
                continue
            step = max((r["capacity"]["resolution"] for r in runs_a + runs_b
                        if is_capacity(r) and metric == "rps"), default=0.0)
            pooled = [f"{side} pools {n} commits" for side, runs in (("A", runs_a),
                                                                     ("B", runs_b))
                      if (n := len({FIELDS["commit"](r) for r in runs})) > 1]
            rows.append(Row(_name(config), host, good_a, good_b, failed,
                            verdict(good_a, good_b, step, metric == "cpu"), pooled))
    unmatched = {"only in A": len(set(left) - set(right)),
                 "only in B": len(set(right) - set(left))}
    return rows, refused, unmatched


def _number(value: float) -> str:
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3f}"


def _cell(values: list[float]) -> str:
    median = _number(statistics.median(values))
    if len(values) == 1:
        return f"{median} (1 run)"
    return f"{median} ({len(values)} runs, {_number(min(values))}-{_number(max(values))})"


def render(a: Selection, b: Selection, rows: list[Row], refused: list[str],
           unmatched: dict[str, int], metric: str = "rps") -> str:
    """The comparison as text: a table, then the refusals and the tally."""
    from tabulate import tabulate

    table = [[row.name, row.host, _cell(row.a), _cell(row.b), f"{row.change:+.1%}",
              "; ".join([row.verdict, *row.pooled] + ([f"{row.failed} failed runs left out"]
                                                       if row.failed else []))]
             for row in rows]
    lines = [f"A: {a.label} ({len(a.records)} records); B: {b.label} ({len(b.records)} "
             f"records). {UNITS[metric]}; change is B against A; verdict by "
             f"Welch's t-test at 95%. A side that pools commits may pool sittings: add "
             f"commit=... to a side to keep one.", ""]
    if table:
        lines += [tabulate(table, headers=["configuration", "host", "A", "B", "change",
                                           "verdict"], tablefmt="simple",
                           disable_numparse=True), ""]
    lines += refused
    tally = defaultdict(int)
    for row in rows:
        tally[row.verdict] += 1
    counts = [f"{n} {v}" for v, n in sorted(tally.items())]
    counts += [f"{n} configurations {k}" for k, n in unmatched.items() if n]
    lines.append("Compared: " + (", ".join(counts) if counts else "nothing") + ".")
    return printable("\n".join(lines))  # a record's text cannot drive the terminal


def regressions(rows: list[Row], threshold: float) -> list[Row]:
    """Rows significantly slower by more than threshold (a fraction)."""
    return [row for row in rows if row.verdict == SLOWER and abs(row.change) > threshold]


def build_parser() -> OneLineParser:
    """The options of `compare`."""
    parser = OneLineParser(
        prog="python -m pyserverbench compare",
        description="Compare records A with records B, configuration by configuration.")
    parser.add_argument("a", help="a directory of records, or filters like python=3.12")
    parser.add_argument("b", help="the same for the other side, like python=3.13")
    parser.add_argument("--runs-dir", type=Path, default=RUNS,
                        help="where filters look for records (default results/runs)")
    parser.add_argument("--fail-slower", type=bounded_float(0, 100), default=None,
                        metavar="PERCENT",
                        help="exit 1 if any configuration is significantly slower in B "
                             "by more than PERCENT (0 to 100)")
    parser.add_argument("--metric", choices=METRICS, default="rps",
                        help="rps: req/s (default); cpu: the server's CPU ms per request")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        a, b = select(args.a, args.runs_dir), select(args.b, args.runs_dir)
    except ValueError as exc:
        parser.error(str(exc))
    rows, refused, unmatched = compare(a, b, args.metric)
    print(render(a, b, rows, refused, unmatched, args.metric))
    if not rows:
        print("error: no configuration was measured in both A and B on the same host",
              file=sys.stderr)
        return 2
    if args.fail_slower is not None:
        worse = regressions(rows, args.fail_slower / 100)
        if worse:
            print(f"error: {len(worse)} configurations slower by more than "
                  f"{args.fail_slower:g}%: " + "; ".join(
                      f"{row.name} {row.change:+.1%}" for row in worse), file=sys.stderr)
            return 1
    return 0
