from pyserverbench.harness.machine import host_facts, host_id

FACTS = {"cpu_model": "AMD EPYC", "cores": 2, "memory_bytes": 25 * 2**30}


def test_the_host_id_is_stable_for_the_same_machine():
    assert host_id(FACTS, "abc", "vm") == host_id(dict(FACTS), "abc", "vm")
    assert len(host_id(FACTS, "abc", "vm")) == 12


def test_machines_alike_in_cpu_and_cores_still_get_different_ids():
    ids = {host_id(FACTS, "abc", "vm"), host_id(FACTS, "abd", "vm"),
           host_id(FACTS, "abc", "laptop"), host_id({**FACTS, "memory_bytes": 8}, "abc", "vm")}
    assert len(ids) == 4


def test_this_host_has_an_id_kernel_and_architecture():
    facts = host_facts()
    assert len(facts["id"]) == 12 and facts["kernel"] and facts["machine"]
