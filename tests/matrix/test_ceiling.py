import re

from helpers import ROOT

from pyserverbench.matrix.ceiling import (
    REQUESTS_PER_ITERATION,
    THINK_TIME_S,
    ceiling,
    ceiling_facts,
    client_facts,
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


def test_users_set_the_rate_when_the_server_was_idle_and_no_one_waited_for_a_slot():
    # 10 users, 32 slots, the server 40% busy: nobody queued, more users would be served
    assert client_facts(10, 32, 2.0, 5.0, 1) == {"vus": 10, "slots": 32,
                                                  "server_busy": 0.4, "bound": True}
    # more users than slots: they waited for one, the server's slots set the rate
    assert not client_facts(64, 32, 2.0, 5.0, 1)["bound"]
    # a busy CPU set it, whatever the users
    assert not client_facts(10, 32, 4.5, 5.0, 1)["bound"]
    # a non-blocking server has no slots: only its CPU says
    assert client_facts(10, None, 3.0, 5.0, 2)["bound"]
    assert not client_facts(10, None, 8.5, 5.0, 2)["bound"]
