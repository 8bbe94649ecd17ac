"""Machine facts: the host id records are grouped by, and what this host reports."""

from pyserverbench.harness.machine import host_facts, host_id

FACTS = {"cpu_model": "AMD EPYC", "cores": 2, "memory_bytes": 25 * 2**30}


def test_the_host_id_of_given_facts_never_changes():
    # Pinned: records are grouped by this id, so a change here would split every
    # committed record from the runs measured after it on the same machine.
    assert host_id(FACTS, "abc", "vm") == "aa17da987535"
    assert host_id(dict(reversed(list(FACTS.items()))), "abc", "vm") == "aa17da987535"


def test_machines_alike_in_cpu_and_cores_still_get_different_ids():
    ids = {host_id(FACTS, "abc", "vm"), host_id(FACTS, "abd", "vm"),
           host_id(FACTS, "abc", "laptop"), host_id({**FACTS, "memory_bytes": 8}, "abc", "vm")}
    assert len(ids) == 4


def test_this_host_has_an_id_kernel_and_architecture():
    facts = host_facts()
    assert len(facts["id"]) == 12 and facts["kernel"] and facts["machine"]
