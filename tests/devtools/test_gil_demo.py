import re

from pyserverbench.devtools.gil_demo import compare, main


def test_compare_times_one_job_and_the_pool_for_both_kinds():
    results = compare(jobs=2, seconds=0.02)
    assert [name for name, _, _ in results] == ["sleep (GIL released)", "loop (GIL held)"]
    assert all(one > 0 and pooled > 0 for _, one, pooled in results)


def test_main_prints_a_ratio_per_kind(capsys):
    assert main(["--jobs", "2", "--seconds", "0.02"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert all(re.search(r"ratio\s+\d+\.\d", line) for line in lines[1:])
