"""The README and CI promise the same test command; the layout is what the spec names."""

from pathlib import Path

from pyserverbench.stacks import STACKS

ROOT = Path(__file__).resolve().parent.parent


def _ci_test_command() -> str:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    [command] = [line for line in lines if "-s tests" in line and not line.startswith("#")]
    return command.strip()


def test_ci_runs_the_readme_test_command():
    assert _ci_test_command() in (ROOT / "README.md").read_text()


def test_readme_names_every_stack_and_the_record_fields():
    readme = (ROOT / "README.md").read_text()
    for name in STACKS:
        assert f"`{name}`" in readme
    for field in ("db_latency_ms", "duration_p95_ms", "blocked_p95_ms", "failed_rate"):
        assert field in readme


def test_required_top_level_names_exist():
    for name in ("noxfile.py", "apps", "fakedb", "load.js", "results", "README.md"):
        assert (ROOT / name).exists(), name
