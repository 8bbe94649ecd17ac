import pytest

from pyserverbench.devtools.calibrate import measure_rate, table_row
from pyserverbench.harness.k6 import find_k6


def test_a_row_shows_the_latency_added_on_top_of_the_sleep():
    row = table_row(25, 1000, {"achieved": 998.4, "dropped": 0, "failed": 0, "p50": 25.3,
                               "p99": 27.0})
    assert row == "| 25 ms | 1,000 | 998 | 0 | 25.30 ms | 27.00 ms | +0.30 ms | +2.00 ms |"


@pytest.mark.processes
def test_a_short_constant_rate_run_against_the_real_fake_db(fakedb_factory, tmp_path):
    url = fakedb_factory(10)
    found = measure_rate(find_k6(), url, rate=100, duration_s=2, logs=tmp_path)
    assert found["failed"] == 0
    assert 50 <= found["achieved"] <= 110
    assert found["p50"] >= 10
