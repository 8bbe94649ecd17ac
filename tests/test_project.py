"""The README and CI promise the same test command; the docs name every stack; the layout
is what the spec names; the servers under test stand apart from the harness, whose
modules import one another without a cycle."""

import ast
from pathlib import Path

import pytest
from helpers import ROOT

from pyserverbench.matrix.stacks import STACKS


def _ci_test_command() -> str:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    [command] = [line for line in lines if "-s tests" in line and not line.startswith("#")]
    return command.strip()


def test_ci_runs_the_readme_test_command():
    assert _ci_test_command() in (ROOT / "README.md").read_text()


def test_the_stacks_page_names_every_stack():
    page = (ROOT / "docs" / "stacks.md").read_text()
    for name in STACKS:
        assert f"| `{name}` |" in page


def test_required_top_level_names_exist():
    for name in ("noxfile.py", "apps", "fakedb", "load.js", "results", "README.md"):
        assert (ROOT / name).exists(), name


def _imports(path: Path) -> set[str]:
    """The modules a file imports at its top level or inside functions, absolute names."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("folder", ["apps", "fakedb"])
def test_the_servers_under_test_import_nothing_of_the_harness(folder):
    for path in (ROOT / folder).rglob("*.py"):
        assert not {name for name in _imports(path) if name.startswith("pyserverbench")}, path


def test_the_apps_dials_are_the_harnesss():
    import apps.common
    from pyserverbench.matrix import workloads

    for name in ("MAX_ROWS", "MAX_CALLS", "DEFAULT_CALLS"):
        assert getattr(apps.common, name) == getattr(workloads, name), name


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports."""
    modules = {_module_name(p): p for p in (ROOT / "pyserverbench").rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of the graph, as the modules along it, or [] if it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 30 and "pyserverbench.records" in graph
    assert cycle(graph) == []


def test_a_cycle_is_found():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []


def test_every_command_names_a_function_that_exists():
    import importlib

    from pyserverbench.cli.commands import COMMANDS

    assert len(COMMANDS) == 16
    for command, target in COMMANDS.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), command


def test_an_unknown_command_is_refused_naming_the_commands(capsys):
    from pyserverbench.cli.commands import main

    with pytest.raises(SystemExit) as stopped:
        main(["bogus"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "error: unknown command 'bogus' (accepted: run, capacity, report, asyncable, "
        "interrupts, calibrate, knee, mutants, compare, matrix, db-role, server-role, "
        "load-role, app, sitting, sitting-summary)\n")
