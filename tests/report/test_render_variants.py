"""The report for records that vary every fact a section, a row or a note depends on,
against a saved rendering (tests/data/expected_variants.md, reviewed by hand)."""


from helpers import BASE, DATA, PINNED, SHARED
from helpers import closed_record as record
from helpers import closed_usage as _usage

from pyserverbench.report.render import render


def variants() -> list[dict]:
    pinned = {"placement": PINNED}
    gil_off = {"gil_enabled": False}
    return [
        # One section, pinned, GIL stated: boundaries of every note and cell.
        record("01", "uvicorn", 12960, probe=gil_off,  # 90% of the ceiling exactly
               packages={**BASE["packages"], "uvloop": "0.23.0"}, **pinned),
        record("02", "uvicorn", 9000, probe=gil_off,  # the same placement, its keys
               placement=dict(reversed(list(PINNED.items())))),  # in another order
        *(record(f"0{3 + i}", "sync", n, probe=gil_off, metrics={"duration_p95_ms": 1.0},
                 usage=_usage(server_cpu=cpu), packages=packages, **pinned)
          for i, (n, cpu, packages) in enumerate([  # 10% spread; package order does not matter
              (950, 0.0, BASE["packages"]), (1000, 10.0, BASE["packages"]),
              (1050, 10.5, dict(reversed(list(BASE["packages"].items()))))])),
        record("06", "gthread", 5000, threads=1,
               probe=gil_off, **pinned),
        record("07", "gthread", 5100, threads=4,
               probe=gil_off, **pinned),
        record("08", "stupid-async", 4000, usage=_usage(k6=(30.0, 60.0), fakedb=31.0),
               probe={"tcp_nodelay": False, "spread": {"shares": [0.8, 0.2], "uneven": True},
                      **gil_off},
               project={"dirty": True, "commit": "abc"}, **pinned),
        record("09", "donkey-patched", 3000, usage=_usage(server_cpu=0.5, k6=(25.0, 40.0)),
               probe=gil_off, **pinned),
        record("10", "uvicorn-asyncio", 2000, usage=None, probe=gil_off, **pinned),
        record("12", "gevent", 0, ok=False, error="x" * 141, metrics=None, **pinned,
               probe=gil_off),
        record("13", "gthread", 4000, threads=None, probe=gil_off, **pinned),
        record("14", "gevent", 3500, usage=_usage(server_cpu=0.0), probe=gil_off, **pinned),
        record("15", "uvicorn", 0, ok=False, error=None, metrics=None, probe=gil_off, **pinned),
        record("16", "uvicorn", 0, ok=False, error="first line\nsecond | line", metrics=None,
               probe=gil_off, **pinned),
        record("11", "sync", 0, ok=False, error="y" * 140, metrics=None, **pinned,
               probe=gil_off),
        # Same machine but for the cores: one section whose placement differs; GIL both ways.
        record("20", "sync", 900, python="3.13.0", probe={"gil_enabled": True},
               placement=PINNED),
        record("21", "sync", 1000, python="3.13.0", probe={"gil_enabled": False},
               placement={**PINNED, "host_cores": 4}),
        record("22", "uvicorn", 14000, python="3.13.0", placement=PINNED),
        record("23", "sync", 1100, python="3.13.0", placement=PINNED,
               packages={"uvicorn": "0.53.0", "httpx": "0.27.0"}),
        record("24", "sync", 1200, python="3.13.0", placement=PINNED, packages=None),
        # Python versions sort as numbers; new connections and one worker in the heading.
        record("30", "uvicorn", python="3.10.13"),
        record("31", "uvicorn", python="3.9.18"),
        record("33", "uvicorn", python="3.14.0rc1", usage=_usage(k6=(0.0, 0.0))),  # k6 no time
        record("32", "uvicorn", workers=1, connections="per-iteration"),
        # An old host record without id, architecture or k6 version.
        record("40", "uvicorn", host={"id": None, "machine": None}, k6_version=None),
        # One scenario on three machine setups: the headings name what differs.
        record("50", "uvicorn", db_latency_ms=0, host={"id": "aaaaaaaaaaaa"}, placement=SHARED),
        record("51", "uvicorn", db_latency_ms=0, host={"id": "aaaaaaaaaaaa"}, placement=PINNED),
        record("52", "uvicorn", db_latency_ms=0, host={"id": "bbbbbbbbbbbb"}, placement=SHARED,
               k6_version="k6 v1.2.0 (commit/x)"),
    ]


def _cleaned(records: list[dict]) -> list[dict]:
    for r in records:  # a key set to None stands for a key the old record lacks
        for key in [k for k, v in r["host"].items() if v is None]:
            del r["host"][key]
        for key in ("k6_version", "packages"):
            if r.get(key, "") is None:
                del r[key]
    return records


def test_every_variant_renders_as_saved():
    assert render(_cleaned(variants())) == (DATA / "expected_variants.md").read_text()
