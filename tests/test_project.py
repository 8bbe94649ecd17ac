"""The README and CI promise the same test command; the docs name every stack; the layout
is what the spec names."""


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
