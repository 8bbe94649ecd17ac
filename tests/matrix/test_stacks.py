import importlib
import re

import pytest

from pyserverbench.matrix.pins import HARNESS_PACKAGES, PINS, SERVED, TOOLS
from pyserverbench.matrix.stacks import (
    STACKS,
    STUDY_RUNS,
    pinned,
    suite_requirements,
    threads_problem,
)

NAMES = ["sync", "gthread", "gevent", "uvicorn", "uvicorn-worker", "stupid-async",
         "donkey-patched", "uvicorn-asyncio", "granian-wsgi", "granian-asgi", "hypercorn",
         "gunicorn-asgi", "waitress"]


def test_the_matrix_holds_these_stacks_in_this_order():
    assert list(STACKS) == NAMES


def test_every_pin_is_an_exact_version():
    for name, version in PINS.items():
        assert re.fullmatch(r"\d+(\.\d+)+", version), name


def test_every_stack_package_is_pinned():
    for stack in STACKS.values():
        for requirement in stack.requirements():
            assert re.fullmatch(r"[a-z0-9-]+(\[[a-z]+\])?==[\d.]+", requirement), requirement
        for name in HARNESS_PACKAGES:
            assert f"{name}=={PINS[name]}" in stack.requirements()


def test_pinned_keeps_extras():
    assert pinned("gunicorn[gevent]") == [f"gunicorn[gevent]=={PINS['gunicorn']}"]


def test_gevent_stack_installs_the_gevent_extra():
    assert any(r.startswith("gunicorn[gevent]==") for r in STACKS["gevent"].requirements())


def test_stacks_hold_only_their_own_servers():
    assert not any("uvicorn" in r for r in STACKS["sync"].requirements())
    assert not any("gunicorn" in r for r in STACKS["uvicorn"].requirements())
    assert not any("gevent" in r for r in STACKS["gthread"].requirements())


@pytest.mark.parametrize("name", NAMES)
def test_app_target_names_an_app_that_imports(name):
    module, _, attribute = STACKS[name].app_target.partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))


@pytest.mark.parametrize("name", NAMES)
def test_command_binds_the_given_host_port_and_workers(name):
    argv = STACKS[name].argv("/venv/bin/python", "127.0.0.1", 8123, 3)
    assert argv[0] == "/venv/bin/python"
    assert argv[-1] == STACKS[name].app_target
    joined = " ".join(argv)
    assert "127.0.0.1" in joined and "8123" in joined
    if STACKS[name].one_process:
        assert "--threads=3" in joined and "--workers" not in joined
    else:
        assert "--workers 3" in joined


def test_study_runs_are_the_studys_three_tables_plus_plain_uvicorn():
    assert len(STUDY_RUNS) == len(NAMES) + 8
    assert {(s, w) for s, w, ms in STUDY_RUNS if ms == 25 and w == 2} == {(s, 2) for s in NAMES}
    shorter = {"sync", "uvicorn", "uvicorn-worker", "uvicorn-asyncio"}
    assert {s for s, w, ms in STUDY_RUNS if w == 1} == shorter
    assert {s for s, w, ms in STUDY_RUNS if ms == 0} == shorter


@pytest.mark.parametrize("name", ["uvicorn", "uvicorn-worker", "stupid-async"])
def test_uvicorn_stacks_are_installed_as_uvicorn_documents(name):
    requirements = STACKS[name].requirements()
    for wanted in (f"uvicorn[standard]=={PINS['uvicorn']}", f"uvloop=={PINS['uvloop']}",
                   f"httptools=={PINS['httptools']}"):
        assert wanted in requirements
    assert (STACKS[name].loop, STACKS[name].parser) == ("uvloop", "httptools")


def test_plain_uvicorn_is_its_own_stack_that_names_its_loop_and_parser():
    stack = STACKS["uvicorn-asyncio"]
    assert not any(r.startswith(("uvloop", "httptools", "uvicorn[")) for r in
                   stack.requirements())
    argv = " ".join(stack.argv("python", "127.0.0.1", 1, 2))
    assert "--loop asyncio --http h11" in argv
    assert (stack.loop, stack.parser) == ("asyncio", "h11")


def test_gthread_and_granian_wsgi_take_threads_and_always_state_them():
    assert [n for n, stack in STACKS.items() if stack.uses_threads] == ["gthread", "granian-wsgi"]
    argv = STACKS["gthread"].argv("python", "127.0.0.1", 1, 2, threads=4)
    assert argv[-3:] == ["--threads", "4", STACKS["gthread"].app_target]
    argv = STACKS["gthread"].argv("python", "127.0.0.1", 1, 2)
    assert argv[-3:] == ["--threads", "1", STACKS["gthread"].app_target]
    argv = STACKS["granian-wsgi"].argv("python", "127.0.0.1", 1, 2)
    assert argv[-3:] == ["--blocking-threads", "256", STACKS["granian-wsgi"].app_target]
    with pytest.raises(ValueError, match="no thread setting"):
        STACKS["sync"].argv("python", "127.0.0.1", 1, 2, threads=4)


def test_the_stated_thread_defaults_are_the_servers_own():
    from granian.constants import Interfaces
    from granian.server import Server
    from gunicorn.config import Config

    assert STACKS["gthread"].default_threads == Config().threads
    granian = Server("apps.sync_app:app", interface=Interfaces.WSGI, workers=2)
    assert STACKS["granian-wsgi"].default_threads == granian.blocking_threads


def test_processes_threads_and_slots_of_each_kind_of_stack():
    sync, gthread, waitress = STACKS["sync"], STACKS["gthread"], STACKS["waitress"]
    assert (sync.processes(2), sync.threads(2, None), sync.slots(2, None)) == (2, None, 2)
    assert (gthread.processes(2), gthread.threads(2, 4), gthread.slots(2, 4)) == (2, 4, 8)
    assert gthread.slots(3, None) == 3
    assert (waitress.processes(4), waitress.threads(4, None), waitress.slots(4, None)) == \
        (1, 4, 4)
    assert STACKS["granian-wsgi"].slots(2, None) == 512
    assert STACKS["granian-asgi"].slots(2, None) is None


def test_threads_are_refused_in_one_line_naming_the_stacks_that_take_them():
    assert threads_problem("gthread", 4) is None and threads_problem("sync", None) is None
    assert threads_problem("sync", 4) == ("argument --threads: stack 'sync' has no threads "
                                        "(accepted only with: gthread, granian-wsgi)")
    assert "runs one process, whose --workers N are its N threads" in \
        threads_problem("waitress", 4)
    assert threads_problem(None, 4) == ("argument --threads: applies to one stack at a time "
                                      "(accepted with: gthread, granian-wsgi)")


@pytest.mark.parametrize(("name", "options"), [
    ("granian-wsgi", "--interface wsgi --loop asyncio"),
    ("granian-asgi", "--interface asgi --loop uvloop"),
    ("hypercorn", "--worker-class uvloop"),
    ("gunicorn-asgi", "--worker-class asgi --asgi-loop asyncio --http-parser python"),
])
def test_new_stacks_name_their_loop_and_interface_on_the_command_line(name, options):
    assert options in " ".join(STACKS[name].argv("python", "127.0.0.1", 1, 2))


def _package(requirement: str) -> str:
    return re.sub(r"\[.*\]", "", requirement.partition("==")[0])


def _extras(requirement: str) -> set[str]:
    found = re.search(r"\[(.*)\]", requirement)
    return set(found[1].split(",")) if found else set()


def test_the_suite_installs_every_stacks_requirement_at_its_pin_with_its_extras():
    suite = {_package(r): r for r in suite_requirements()}
    for stack in STACKS.values():
        for requirement in stack.requirements():
            installed = suite.get(_package(requirement))
            assert installed is not None, f"{stack.name}: {requirement} not in the suite"
            assert installed.partition("==")[2] == requirement.partition("==")[2]
            assert _extras(requirement) <= _extras(installed), (stack.name, requirement)


def test_the_servers_pins_are_apart_from_the_tools_pins():
    assert not set(SERVED) & set(TOOLS)
    for stack in STACKS.values():
        assert {_package(r) for r in stack.requirements()} <= set(SERVED), stack.name


def test_the_whole_command_lines_gunicorn_and_uvicorn_get():
    gthread = STACKS["gthread"].argv("py", "127.0.0.1", 8000, 2, threads=4)
    assert gthread == ["py", "-m", "gunicorn", "--workers", "2", "--bind", "127.0.0.1:8000",
                       "--worker-class", "gthread", "--threads", "4", "apps.sync_app:app"]
    assert STACKS["sync"].argv("py", "127.0.0.1", 8000, 1) == [
        "py", "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:8000",
        "--worker-class", "sync", "apps.sync_app:app"]


def test_the_suite_installs_each_package_once_with_its_extras():
    wanted = suite_requirements()
    assert "gunicorn[gevent]==27.0.1" in wanted and "gunicorn==27.0.1" not in wanted
    assert "uvicorn[standard]==0.54.0" in wanted and "uvicorn==0.54.0" not in wanted
    assert len({w.partition("[")[0].partition("==")[0] for w in wanted}) == len(wanted)


@pytest.mark.parametrize(("name", "cpus", "count", "rule"), [
    ("sync", 1, 3, "(2 × CPUs) + 1"), ("gthread", 4, 9, "(2 × CPUs) + 1"),
    ("uvicorn-worker", 2, 5, "(2 × CPUs) + 1"), ("uvicorn", 4, 4, "one per CPU"),
    ("granian-wsgi", 2, 2, "one per CPU"), ("hypercorn", 3, 3, "one per CPU"),
    ("waitress", 8, 4, "4 threads, one process")])
def test_workers_auto_follows_each_stacks_own_rule(name, cpus, count, rule):
    found, facts = STACKS[name].auto_workers(cpus)
    assert (found, facts["rule"], facts["asked"], facts["server_cpus"]) == (
        count, rule, "auto", cpus)


def test_every_stack_has_a_workers_rule_with_its_source():
    for stack in STACKS.values():
        _, facts = stack.auto_workers(1)
        assert facts["source"] and facts["rule"], stack.name
