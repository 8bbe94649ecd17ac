"""Charts a person can read: one look per stack everywhere, no chart without a result, and
a step refused by errors or drops marked as such."""

from helpers import capacity_record, capacity_step

from pyserverbench.matrix.stacks import STACKS
from pyserverbench.records import CapacityKey
from pyserverbench.report.charts import look, p99_chart, refused, section_charts
from pyserverbench.report.render import render


def test_every_stack_has_a_colour_and_a_marker_of_its_own():
    colours = [stack.look[0] for stack in STACKS.values()]
    markers = [stack.look[1] for stack in STACKS.values()]
    assert len(set(colours)) == len(STACKS) and len(set(markers)) == len(STACKS)


def test_a_stack_keeps_its_colour_whichever_stacks_share_the_chart():
    sync = look("sync")["color"].lower()
    alone = p99_chart([capacity_record("sync", 25, 200.0)], 75.0, "t")
    beside = p99_chart([capacity_record("uvicorn", 25, 1000.0),
                        capacity_record("sync", 25, 200.0)], 75.0, "t")
    assert sync in alone.lower() and sync in beside.lower()


def test_a_section_without_a_successful_search_draws_and_links_no_chart():
    failed = [capacity_record("sync", 25, 0.0, ok=False, error="server died")]
    key = CapacityKey.of(failed[0])
    assert section_charts(key, failed, "t") == {}
    assert ".svg)" not in render(failed)
    mixed = failed + [capacity_record("uvicorn", 0, 900.0)]
    drawn = section_charts(CapacityKey.of(mixed[1]), mixed, "t")
    assert sorted(name.split("-")[0] for name in drawn) == ["capacity", "p99"]  # 0 ms only


def test_a_step_refused_by_drops_or_errors_is_marked_not_plotted_as_a_latency():
    record = capacity_record("waitress", 25, 200.0)
    dropped = capacity_step(400.0, passed=False, dropped=300, p99=0.0)
    record["capacity"]["steps"].append(dropped)
    assert refused(dropped) and not refused(record["capacity"]["steps"][0])
    assert "failed by errors or drops" in p99_chart([record], 75.0, "t")
    assert "failed by errors or drops" not in p99_chart(
        [capacity_record("waitress", 25, 200.0)], 75.0, "t")
