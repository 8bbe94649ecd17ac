"""Real user apps under real servers and real k6 (`nox -s app`): a Flask app and a Django
project (WSGI and ASGI, with Django's own async view), both installed from PyPI at the
pins in matrix/pins.py, copied from examples/ into each test's own directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

NOX = ROOT / ".venv-nox" / "bin" / "nox"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

pytestmark = pytest.mark.processes



def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(ROOT / "examples" / name, tmp_path / name))


def _app(stack: str, interface: str, target: str, app_dir: Path, runs: Path, *extra: str,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ}
    environment.pop("PYSERVERBENCH_APP_ENV", None)
    if env:
        environment["PYSERVERBENCH_APP_ENV"] = json.dumps(env)
    return subprocess.run(
        [sys.executable, "-m", "pyserverbench", "app", "--stack", stack, "--interface",
         interface, "--target", target, "--app-dir", str(app_dir), "--duration", "2s",
         "--vus", "4", "--results-dir", str(runs), *extra],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180)


def _records(runs: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(runs.glob("*.json"))]


def _checks(record: dict) -> dict[str, int]:
    """k6's passed checks by name: how many requests each path got."""
    return {name: check["passes"]
            for name, check in record["k6_summary"]["root_group"]["checks"].items()}


def test_a_flask_app_is_measured_with_its_weights_and_proof_of_what_served(tmp_path):
    app_dir = _copy("flask_app", tmp_path)
    done = _app("sync", "wsgi", "hello:app", app_dir, tmp_path / "runs", "--path", "/=2",
                "--path", "/api/items", env={"API_TOKEN": "t0k3n-value", "MODE": "bench"})
    assert done.returncode == 0, done.stderr
    [record] = _records(tmp_path / "runs")
    assert record["ok"], record["error"]
    assert record["probe"]["loop"] == "none" and record["probe"]["parser"] == "gunicorn"
    assert record["probe"]["contradictions"] == []
    assert record["app"] == "WSGI hello:app"
    assert record["user_app"]["load"] == "GET / x2, GET /api/items"
    checks = _checks(record)
    page, api = checks["GET / status 2xx"], checks["GET /api/items status 2xx"]
    assert api > 0 and page == 2 * api  # each iteration: two GET / and one GET /api/items
    assert record["metrics"]["requests"] == page + api
    assert "pyserverbench_wsgi:app" in record["commands"]["server"]
    assert record["environment"]["server"]["PYTHONPATH"].startswith(str(app_dir))
    assert record["user_app"]["env"] == {"API_TOKEN": "***", "MODE": "bench"}
    text = next((tmp_path / "runs").glob("*.json")).read_text()
    assert "t0k3n-value" not in text and "t0k3n-value" not in done.stdout + done.stderr
    assert "run 1 of 1" in done.stdout


def test_a_path_that_does_not_answer_2xx_fails_the_stack_before_any_load(tmp_path):
    app_dir = _copy("flask_app", tmp_path)
    done = _app("gthread", "wsgi", "hello:app", app_dir, tmp_path / "runs", "--path", "/",
                "--path", "/broken")
    assert done.returncode == 1
    [record] = _records(tmp_path / "runs")
    assert not record["ok"] and record["metrics"] is None and "k6_summary" not in record
    assert "GET /broken answered 500, not 2xx" in record["error"]
    assert "this path fails on purpose" in record["error"]  # from the server's own log
    [line] = [line for line in done.stderr.splitlines() if "run failed" in line]
    assert "GET /broken answered 500" in line


@pytest.mark.parametrize(("stack", "target", "named"), [
    ("waitress", "hello:no_such_app", "no_such_app"),
    # gunicorn logs the worker's error, then many lines of its master's exit
    ("sync", "no_such_module:app", "ModuleNotFoundError: No module named 'no_such_module'"),
])
def test_an_app_that_does_not_import_is_a_failed_run_naming_why(stack, target, named,
                                                                tmp_path):
    app_dir = _copy("flask_app", tmp_path)
    done = _app(stack, "wsgi", target, app_dir, tmp_path / "runs")
    assert done.returncode == 1
    [record] = _records(tmp_path / "runs")
    assert not record["ok"] and named in record["error"]


def test_a_django_project_under_wsgi_and_asgi_shares_one_table(tmp_path):
    app_dir = _copy("django_site", tmp_path)
    paths = ["--path", "/", "--path", "/api/items", "--path", "/api/order", "--path",
             "/api/dashboard", "--path", "/api/stock", "--db-latency", "5"]
    secret = {"DJANGO_SECRET_KEY": "not-for-the-record"}
    for stack, interface, threads in (("gthread", "wsgi", ["--threads", "4"]),
                                      ("uvicorn", "asgi", [])):
        done = _app(stack, interface, f"mysite.{interface}:application", app_dir,
                    tmp_path / "runs", *paths, *threads, env=secret)
        assert done.returncode == 0, done.stderr
    records = _records(tmp_path / "runs")
    assert all(r["ok"] for r in records), [r["error"] for r in records]
    by_stack = {r["stack"]: r for r in records}
    assert by_stack["uvicorn"]["probe"]["loop"] == "uvloop"
    assert by_stack["gthread"]["probe"]["loop"] == "none"
    assert by_stack["gthread"]["threads"] == 4
    assert by_stack["gthread"]["commands"]["server"][-3:-1] == ["--threads", "4"]
    for record in records:
        assert _checks(record)["GET /api/stock status 2xx"] > 0  # Django's async view
        assert _checks(record)["GET /api/dashboard status 2xx"] > 0
        assert record["db_latency_ms"] == 5
        assert record["packages"]["django"] == "5.2.19"
    report = subprocess.run(
        [sys.executable, "-m", "pyserverbench", "report", "--runs-dir", str(tmp_path / "runs"),
         "--output", str(tmp_path / "README.md"), "--show-since", "2026-01-01T00:00:00+00:00"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    assert report.stdout.count("## Your app mysite") == 1
    assert "WSGI `mysite.wsgi:application`" in report.stdout
    assert "| ASGI mysite.asgi:application" in report.stdout
    assert "| WSGI mysite.wsgi:application" in report.stdout
    assert f"The full report: {tmp_path / 'README.md'}" in report.stdout
    assert "not-for-the-record" not in report.stdout + (tmp_path / "README.md").read_text()


@pytest.mark.parametrize(("stack", "interface", "path", "low", "high"), [
    ("gthread", "wsgi", "/api/order", 60, 1000),  # three 20 ms calls in turn
    ("uvicorn", "asgi", "/api/dashboard", 20, 60),  # the same three at once
])
def test_the_django_views_wait_for_the_fake_db_in_turn_or_at_once(stack, interface, path,
                                                                   low, high, tmp_path):
    app_dir = _copy("django_site", tmp_path)
    done = _app(stack, interface, f"mysite.{interface}:application", app_dir,
                tmp_path / "runs", "--path", path, "--db-latency", "20", "--vus", "1",
                env={"DJANGO_SECRET_KEY": "test"})
    assert done.returncode == 0, done.stderr
    [record] = _records(tmp_path / "runs")
    # One user, so no request waits for another's CPU: at once is one latency plus the
    # view's own time (about 10 ms here, 30 on a slow CI machine), in turn is three.
    assert low <= record["metrics"]["duration_p50_ms"] < high


ENV_DUMP = '''import json, os
from setuptools import setup
with open(os.environ["ENVDUMP_TO"], "a") as out:
    out.write(json.dumps(dict(os.environ)) + "\\n")
setup(name="envdump", version="0.1", py_modules=[])
'''


@pytest.mark.skipif(not NOX.exists(), reason="needs nox from `python3 bootstrap.py`")
def test_the_app_session_installs_the_requirements_runs_each_stack_and_prints_the_table(
        tmp_path):
    app_dir = _copy("flask_app", tmp_path)
    out = tmp_path / "out"
    # A requirement whose build writes down the environment pip gave it.
    dump = tmp_path / "envdump"
    dump.mkdir()
    (dump / "setup.py").write_text(ENV_DUMP)
    (dump / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n'
                                         'build-backend = "setuptools.build_meta"\n')
    wanted = tmp_path / "requirements.txt"
    wanted.write_text(f"flask==3.1.3\nenvdump @ {dump.as_uri()}\n")
    seen = tmp_path / "seen-by-pip.jsonl"
    done = subprocess.run(
        [str(NOX), "-s", "app", "--", "--wsgi", "hello:app", "--app-dir", str(app_dir),
         "--requirements", str(wanted), "--stacks", "sync,waitress",
         "--python", PYTHON, "--duration", "2s", "--vus", "4", "--results-dir", str(out),
         "--env", "SECRET_KEY=kept-off-screen", "--env-from", "SHOP_DB_PASS"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "SHOP_DB_PASS": "from-our-env", "ENVDUMP_TO": str(seen)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shown = done.stdout + done.stderr
    assert "session 1 of 2" in shown and "session 2 of 2" in shown
    assert "## Your app hello (GET /)" in shown and "| WSGI hello:app" in shown
    assert f"The full report: {out / 'README.md'}" in shown
    assert "kept-off-screen" not in shown
    builds = seen.read_text()  # the values reach the server only, never pip
    assert builds and not any(word in builds for word in (
        "kept-off-screen", "from-our-env", "PYSERVERBENCH_APP_ENV", "SHOP_DB_PASS"))
    records = _records(out / "runs")
    assert all(r["user_app"]["env"] == {"SECRET_KEY": "***", "SHOP_DB_PASS": "***"}
               for r in records)
    assert sorted(r["stack"] for r in records) == ["sync", "waitress"]
    assert all(r["ok"] and r["packages"]["flask"] == "3.1.3" for r in records)
    assert all(r["python"].startswith(PYTHON + ".") for r in records)
    assert "werkzeug" in records[0]["packages"] and "starlette" not in records[0]["packages"]


def test_a_users_own_k6_script_is_the_load_after_the_paths_are_checked(tmp_path):
    app_dir = _copy("flask_app", tmp_path)
    script = tmp_path / "mine.js"
    script.write_text(
        "import http from 'k6/http';\nimport { check } from 'k6';\n"
        "export default function () {\n"
        "  const r = http.get(`${__ENV.BASE_URL}/api/items`);\n"
        "  check(r, { 'twenty items': (x) => x.status === 200 && x.json().items.length === 20 });\n"
        "}\n")
    done = _app("sync", "wsgi", "hello:app", app_dir, tmp_path / "runs", "--k6-script",
                str(script), "--path", "/api/items")
    assert done.returncode == 0, done.stderr
    [record] = _records(tmp_path / "runs")
    assert record["ok"], record["error"]
    assert _checks(record) == {"twenty items": record["metrics"]["requests"]}
    assert record["user_app"]["load"] == "k6 script mine.js"
    assert len(record["user_app"]["k6_script"]["sha256"]) == 64
    k6 = record["commands"]["k6"]
    assert k6[-1] == str(script) and k6[k6.index("--vus") + 1] == "4"


def test_a_post_with_a_json_body_is_checked_and_loaded_as_an_api_makes_it(tmp_path):
    app_dir = _copy("flask_app", tmp_path)
    order = tmp_path / "order.json"
    order.write_text('{"item": 3}')
    done = _app("sync", "wsgi", "hello:app", app_dir, tmp_path / "runs", "--path", "/",
                "--path", "POST /api/orders=2", "--body", str(order))
    assert done.returncode == 0, done.stderr
    [record] = _records(tmp_path / "runs")
    assert record["ok"], record["error"]
    checks = _checks(record)
    assert checks["POST /api/orders status 2xx"] == 2 * checks["GET / status 2xx"] > 0
    assert record["user_app"]["load"] == "GET /, POST /api/orders x2 (JSON body)"
    assert record["user_app"]["requests"][1]["body"]["path"] == str(order)


def test_a_post_whose_body_the_app_refuses_fails_before_the_load(tmp_path):
    app_dir = _copy("flask_app", tmp_path)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"item": "three"}')
    done = _app("sync", "wsgi", "hello:app", app_dir, tmp_path / "runs",
                "--path", "POST /api/orders", "--body", str(wrong))
    assert done.returncode == 1
    [record] = _records(tmp_path / "runs")
    assert not record["ok"] and "POST /api/orders answered 400, not 2xx" in record["error"]


LEAKY = '''import os


def app(environ, start_response):
    raise RuntimeError("cannot log in with " + os.environ["DB_PASS"])
'''


def test_a_secret_in_a_failing_apps_log_is_masked_in_the_record_and_the_terminal(tmp_path):
    app_dir = tmp_path / "leaky"
    app_dir.mkdir()
    (app_dir / "leaky.py").write_text(LEAKY)
    done = _app("sync", "wsgi", "leaky:app", app_dir, tmp_path / "runs", "--path", "/",
                env={"DB_PASS": "hunter2-leaks"})
    assert done.returncode != 0
    [record] = _records(tmp_path / "runs")
    assert not record["ok"] and "cannot log in with ***" in record["error"]
    assert record["user_app"]["env"] == {"DB_PASS": "***"}
    for text in (done.stdout, done.stderr, *(p.read_text() for p in (tmp_path / "runs").iterdir())):
        assert "hunter2-leaks" not in text
    assert "cannot log in with ***" in done.stderr
