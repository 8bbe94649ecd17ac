import re

from helpers import ROOT

from pyserverbench.matrix.ceiling import (
    REQUESTS_PER_ITERATION,
    THINK_TIME_S,
    ceiling,
    ceiling_facts,
)

LOAD_JS = (ROOT / "load.js").read_text()


def test_the_constants_match_load_js():
    body = LOAD_JS.split("export default function")[1]
    mix = body.split("return;")[-1]  # after the branches of other workloads and user apps
    assert len(re.findall(r"http\.get\(", mix)) == REQUESTS_PER_ITERATION
    assert "if (REQUEST)" in body.split("return;")[-2]  # the branch just before the mix
    assert f"sleep({THINK_TIME_S})" in body


def test_ceiling_of_the_reference_scenario():
    assert round(ceiling(10, 60, 25)) == 14_400
    assert round(ceiling(10, 60, 0)) == 18_000


def test_rows_near_the_ceiling_are_bounded():
    assert ceiling_facts(13_600, 10, 60, 25) == {"requests": 14_400, "fraction": 0.9444,
                                                 "bounded": True}
    assert ceiling_facts(7_200, 10, 60, 25)["bounded"] is False


def test_ninety_percent_of_the_ceiling_exactly_is_bounded():
    assert ceiling_facts(12_960, 10, 60, 25)["bounded"] is True
    assert ceiling_facts(12_959, 10, 60, 25)["bounded"] is False
