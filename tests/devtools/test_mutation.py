import pytest

from pyserverbench.devtools.mutation import module_of, score, score_table, statuses

RESULTS = """\
    pyserverbench.report.rows.x_fmt_ms__mutmut_1: killed
    pyserverbench.report.rows.x_fmt_ms__mutmut_2: survived
    pyserverbench.harness.usage.xǁTreeUsageǁsample__mutmut_3: timeout
    pyserverbench.harness.usage.xǁTreeUsageǁsample__mutmut_4: no tests
Some other line mutmut prints: nothing
"""


def test_statuses_are_read_from_mutmuts_results():
    found = statuses(RESULTS)
    assert found == {
        "pyserverbench.report.rows.x_fmt_ms__mutmut_1": "killed",
        "pyserverbench.report.rows.x_fmt_ms__mutmut_2": "survived",
        "pyserverbench.harness.usage.xǁTreeUsageǁsample__mutmut_3": "timeout",
        "pyserverbench.harness.usage.xǁTreeUsageǁsample__mutmut_4": "no tests",
    }
    assert module_of("pyserverbench.harness.usage.xǁTreeUsageǁsample__mutmut_3") == \
        "pyserverbench/harness/usage.py"


def test_the_score_counts_killed_and_timed_out_mutants_as_caught():
    found = statuses(RESULTS)
    assert score(found) == 50.0
    with pytest.raises(ValueError, match="no mutants"):
        score({})


def test_the_table_has_a_row_per_module_and_a_total():
    lines = score_table(statuses(RESULTS)).splitlines()
    assert [line.split("|")[1].strip() for line in lines[2:]] == [
        "pyserverbench/harness/usage.py", "pyserverbench/report/rows.py", "all"]
    assert [line.split("|")[-2].strip() for line in lines[2:]] == ["50.0%", "50.0%", "50.0%"]
    assert [c.strip() for c in lines[-1].split("|")[2:7]] == ["4", "1", "1", "1", "1"]
