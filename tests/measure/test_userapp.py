"""A user's own app (`nox -s app`): options, masking, the plan of sessions, records and the
report's section. The runs of real Flask and Django apps are in test_userapp_runs.py."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import pytest
from helpers import ROOT

from pyserverbench.cli.capacity_options import MIN_REQUESTS
from pyserverbench.cli.progress import Progress
from pyserverbench.matrix.stacks import STACKS, app_stacks
from pyserverbench.measure import app as app_run
from pyserverbench.measure.userapp import (
    ENV_VARIABLE,
    MASK,
    Request,
    UserApp,
    env_pair,
    masked,
    plan,
    requirements_of,
    requirements_problem,
    shown,
    weighted_path,
)
from pyserverbench.records import read_records
from pyserverbench.report.render import render, sections, shown_since

FOUND = ["3.10", "3.11", "3.12", "3.13"]
WSGI = ["sync", "gthread", "gevent", "granian-wsgi", "waitress"]
ASGI = ["uvicorn", "uvicorn-worker", "uvicorn-asyncio", "granian-asgi", "hypercorn",
        "gunicorn-asgi"]


def test_each_server_stack_serves_one_interface_and_the_two_app_mistakes_none():
    assert app_stacks("wsgi") == WSGI
    assert app_stacks("asgi") == ASGI
    assert not STACKS["stupid-async"].serves_apps and not STACKS["donkey-patched"].serves_apps


def test_a_users_app_installs_the_server_without_our_apps_own_packages():
    for name in WSGI + ASGI:
        wanted = " ".join(STACKS[name].server_requirements())
        assert "werkzeug" not in wanted and "starlette" not in wanted and "jinja2" not in wanted
        assert "k6==" in wanted and "psutil==" in wanted
    assert "gunicorn[gevent]==27.0.1" in STACKS["gevent"].server_requirements()


@pytest.mark.parametrize(("text", "expected"), [
    ("/", ("/", 1)), ("/api/items=2", ("/api/items", 2)), ("/a=100", ("/a", 100)),
    ("/search?q=x", ("/search?q=x", 1)), ("/search?q=x=3", ("/search?q=x", 3)),
])
def test_paths_and_their_weights(text, expected):
    assert tuple(weighted_path(text)) == (*expected, "GET", None)


@pytest.mark.parametrize(("text", "method", "path"), [
    ("POST /api/orders", "POST", "/api/orders"), ("DELETE /a=3", "DELETE", "/a"),
    ("GET /", "GET", "/")])
def test_a_path_may_name_its_method(text, method, path):
    found = weighted_path(text)
    assert (found.method, found.path) == (method, path)


def test_a_body_is_the_json_of_the_path_before_it(tmp_path):
    order = tmp_path / "order.json"
    order.write_text('{"item": 3}')
    args = _session_args(["--path", "/", "--path", "POST /api/orders=2", "--body", str(order)])
    assert args.paths == [Request("/"), Request("/api/orders", 2, "POST", order)]
    app = UserApp("shop", "wsgi", "shop:app", paths=tuple(args.paths))
    assert app.label() == "GET /, POST /api/orders x2 (JSON body)"
    assert app.requests() == [["/", 1, "GET", None], ["/api/orders", 2, "POST", str(order)]]
    assert app.facts()["requests"][1]["body"]["path"] == str(order)
    assert UserApp("shop", "wsgi", "shop:app").requests() is None  # plain GETs: the mix
    assert "requests" not in UserApp("shop", "wsgi", "shop:app").facts()
    assert args.paths[1].options() == ["--path", "POST /api/orders=2", "--body", str(order)]


@pytest.mark.parametrize(("given", "named"), [
    (["--body", "x.json"], "give it after the --path it is the body of"),
    (["--path", "/a", "--body", "x.json"], "GET /a takes no body"),
    (["--path", "POST /a", "--body", "missing.json"], "'missing.json' is not a readable"),
    (["--path", "POST /a", "--body", "bad.json"], "'bad.json' is not JSON"),
    (["--path", "POST /a", "--body", "ok.json", "--body", "ok.json"], "has a body already"),
])
def test_a_bad_body_is_refused_in_one_line(given, named, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "ok.json").write_text("[]")
    with pytest.raises(ValueError) as raised:
        _session_args(given)
    assert named in str(raised.value) and "\n" not in str(raised.value)


def _session_args(argv: list[str]) -> argparse.Namespace:
    from pyserverbench.measure.userapp import build_parser

    return build_parser(raising=True).parse_args(["--wsgi", "shop:app", *argv])


@pytest.mark.parametrize("text", ["api", "/a=0", "/a=101", "/a,b", "/a:b", "/a b", ""])
def test_bad_paths_are_refused_naming_the_value(text):
    with pytest.raises(argparse.ArgumentTypeError, match="not a path to load"):
        weighted_path(text)


@pytest.mark.parametrize("name", ["PATH", "HOME", "PYTHONPATH", "PYSERVERBENCH_PROBE_DIR"])
def test_the_clean_rooms_own_variables_cannot_be_set(name):
    with pytest.raises(argparse.ArgumentTypeError, match="set by the harness"):
        env_pair(f"{name}=x")


def test_env_pairs_keep_everything_after_the_first_equals():
    assert env_pair("DATABASE_URL=sqlite:///a?x=1") == ("DATABASE_URL", "sqlite:///a?x=1")
    for bad in ("NOEQUALS", "1A=x", "A-B=x"):
        with pytest.raises(argparse.ArgumentTypeError, match="not NAME=VALUE"):
            env_pair(bad)


def test_secret_looking_names_and_url_passwords_are_masked():
    env = {"DJANGO_SECRET_KEY": "s1", "api_token": "t1", "DB_PASSWORD": "p1", "AWS_KEY": "k1",
           "DATABASE_URL": "postgres://me:pw123@db:5432/x", "DEBUG": "1",
           "CACHE": "redis://cache:6379/0"}
    shown_env = masked(env)
    for name in ("DJANGO_SECRET_KEY", "api_token", "DB_PASSWORD", "AWS_KEY"):
        assert shown_env[name] == MASK
    assert shown_env["DATABASE_URL"] == "postgres://me:***@db:5432/x"
    assert shown_env["DEBUG"] == "1" and shown_env["CACHE"] == "redis://cache:6379/0"
    assert shown("X", "plain") == "plain"


def _project(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    return tmp_path / "proj"


def test_a_wsgi_app_runs_on_every_wsgi_stack_on_the_newest_python(tmp_path):
    chosen = plan(["--wsgi", "mysite.wsgi:application"], FOUND, tmp_path)
    assert chosen.python == "3.13"
    assert [stack for stack, _ in chosen.runs] == WSGI
    stack, argv = chosen.runs[0]
    assert argv[:6] == ["--stack", "sync", "--interface", "wsgi", "--target",
                        "mysite.wsgi:application"]
    assert argv[argv.index("--results-dir") + 1] == str(tmp_path / "pyserverbench-results"
                                                         / "runs")
    assert chosen.results_dir == tmp_path / "pyserverbench-results"


def test_both_interfaces_run_every_stack_of_each_and_stacks_narrow_it(tmp_path):
    both = ["--wsgi", "m.wsgi:app", "--asgi", "m.asgi:app"]
    assert [s for s, _ in plan(both, FOUND, tmp_path).runs] == WSGI + ASGI
    narrowed = plan([*both, "--stacks", "uvicorn,sync", "--python", "3.11"], FOUND, tmp_path)
    assert [s for s, _ in narrowed.runs] == ["sync", "uvicorn"] and narrowed.python == "3.11"
    assert narrowed.runs[1][1][3] == "asgi" and narrowed.runs[1][1][5] == "m.asgi:app"


@pytest.mark.parametrize(("argv", "named"), [
    ([], "--wsgi module:attribute"),
    (["--wsgi", "mysite.wsgi"], "'mysite.wsgi' is not an app"),
    (["--wsgi", "a:b", "--stacks", "uvicorn"], "'uvicorn' does not serve"),
    (["--wsgi", "a:b", "--python", "3.9"], "'3.9' not found (accepted: 3.10, 3.11"),
    (["--wsgi", "a:b", "--chdir"], "--chdir: needs --app-dir"),
    (["--wsgi", "a:b", "--goal-ms", "50"], "--goal-ms: applies to --capacity and --advise"),
    (["--wsgi", "a:b", "--rounds", "2"], "--rounds: applies to --advise only"),
    (["--wsgi", "a:b", "--advise-workers", "1,2"], "--advise-workers: applies to --advise"),
    (["--wsgi", "a:b", "--advise", "--advise-workers", "0"], "'0' is not a worker count"),
    (["--wsgi", "a:b", "--env", "A=1", "--env", "A=2"], "'A' given twice"),
    (["--wsgi", "a:b", "--path", "/", "--path", "/=2"], "a path given twice"),
    (["--wsgi", "a:b", "--app-dir", "no-such-dir"], "'no-such-dir' is not an existing"),
    (["--wsgi", "a:b", "--results-dir", str(ROOT / "results" / "mine")], "inside the project"),
])
def test_bad_options_are_one_line_naming_the_value(argv, named, tmp_path):
    with pytest.raises(ValueError) as raised:
        plan(argv, FOUND, tmp_path)
    assert named in str(raised.value) and "\n" not in str(raised.value)


def test_threads_reach_only_the_stacks_that_take_them(tmp_path):
    chosen = plan(["--wsgi", "a:b", "--asgi", "c:d", "--threads", "8"], FOUND, tmp_path)
    given = {stack: argv[argv.index("--threads") + 1] for stack, argv in chosen.runs
             if "--threads" in argv}
    assert given == {"gthread": "8", "granian-wsgi": "8"}
    with pytest.raises(ValueError, match="--threads: none of the chosen stacks takes it"):
        plan(["--asgi", "c:d", "--threads", "8"], FOUND, tmp_path)
    with pytest.raises(SystemExit):
        app_run.parse_args(["--stack", "sync", "--interface", "wsgi", "--target", "a:b",
                            "--threads", "4"])


def test_advise_plans_a_sweep_of_capacity_searches_per_stack(tmp_path):
    chosen = plan(["--wsgi", "m.wsgi:app", "--stacks", "sync,gthread", "--advise",
                   "--advise-workers", "1,auto", "--advise-threads", "4,8", "--workers", "7",
                   "--threads", "2"], FOUND, tmp_path)
    sitting = chosen.sitting
    assert sitting["plan"] == "advise" and sitting["rounds"] == 3 and sitting["python"] == "3.13"
    cells = [(c["kind"], c["stack"], c["workers"], c["sweep"]) for c in sitting["cells"]]
    assert cells == [("app", "sync", 1, True), ("app", "sync", "auto", True)] + [
        ("app", "gthread", count, True) for count in (1, 1, "auto", "auto")]
    gthread = [c["options"] for c in sitting["cells"] if c["stack"] == "gthread"]
    assert [o[o.index("--threads") + 1] for o in gthread] == ["4", "8", "4", "8"]
    for options in gthread:  # the grid's counts replace --workers 7 and --threads 2
        assert options.count("--threads") == 1 and "--workers" not in options
        assert options.count("--capacity") == 1 and list(options[-4:-2]) == ["--goal-ms", "100"]
    assert chosen.warnings == ()


def test_a_closed_loop_that_cannot_fill_a_stacks_slots_warns_in_one_line(tmp_path):
    chosen = plan(["--wsgi", "m.wsgi:app", "--stacks", "sync,gthread,gevent", "--workers",
                   "4", "--threads", "8", "--vus", "20"], FOUND, tmp_path)
    assert len(chosen.warnings) == 1 and "\n" not in chosen.warnings[0]
    assert chosen.warnings[0].startswith("gthread: 20 VUs cannot fill its 32 slots")
    assert "--vus 64" in chosen.warnings[0]
    assert plan(["--wsgi", "m.wsgi:app", "--stacks", "sync", "--workers", "4", "--vus",
                 "5"], FOUND, tmp_path).warnings == ()


def test_no_python_found_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="no supported Python"):
        plan(["--wsgi", "a:b"], [], tmp_path)


def test_relative_paths_are_read_from_where_nox_was_run(tmp_path):
    project = _project(tmp_path)
    chosen = plan(["--wsgi", "a:b", "--app-dir", "proj", "--results-dir", "out"], FOUND,
                  tmp_path)
    argv = chosen.runs[0][1]
    assert argv[argv.index("--app-dir") + 1] == str(project)
    assert chosen.results_dir == tmp_path / "out"


def test_env_values_stay_off_the_command_lines(tmp_path):
    chosen = plan(["--wsgi", "a:b", "--env", "DJANGO_SECRET_KEY=s3cr3t", "--env", "X=1"],
                  FOUND, tmp_path)
    assert chosen.env == {"DJANGO_SECRET_KEY": "s3cr3t", "X": "1"}
    for _, argv in chosen.runs:
        assert not any("s3cr3t" in part or "X=1" in part for part in argv)


def _requirements(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    return path


def test_a_requirement_the_pins_cannot_meet_is_one_line_naming_both(tmp_path):
    wanted = _requirements(tmp_path, "# ours\ndjango==5.2.19\n\ngunicorn<25 ; python_version>'3'\n")
    problem = requirements_problem(wanted, ["sync", "waitress", "gevent"])
    assert problem is not None and "\n" not in problem
    assert "line 4" in problem and "gunicorn<25" in problem and "gunicorn==27.0.1" in problem
    assert "sync" in problem and "gevent" in problem and "waitress" not in problem
    with pytest.raises(ValueError, match="conflicts with the pin gunicorn==27.0.1"):
        plan(["--wsgi", "a:b", "--requirements", str(wanted)], FOUND, tmp_path)


def test_requirements_the_pins_meet_pass_and_reach_each_session(tmp_path):
    wanted = _requirements(tmp_path, "django==5.2.19\ngunicorn>=23\nhttpx~=0.28\n-e ./x\n")
    assert requirements_problem(wanted, WSGI + ASGI) is None
    chosen = plan(["--wsgi", "a:b", "--requirements", str(wanted)], FOUND, tmp_path)
    assert chosen.requirements == wanted
    assert all(requirements_of(argv) == wanted for _, argv in chosen.runs)


def test_the_harness_pins_count_as_the_stacks_own(tmp_path):
    problem = requirements_problem(_requirements(tmp_path, "httpx<0.20\n"), ["uvicorn"])
    assert problem and "httpx==0.28.1" in problem and "uvicorn" in problem


def test_a_stacks_run_refuses_an_app_of_the_other_interface(capsys):
    with pytest.raises(SystemExit):
        app_run.parse_args(["--stack", "uvicorn", "--interface", "wsgi", "--target", "a:b"])
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "'uvicorn' serves asgi apps, not wsgi" in err


def test_a_stacks_run_takes_the_env_from_the_session_and_masks_it(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VARIABLE, json.dumps({"API_TOKEN": "t0k", "MODE": "bench"}))
    config, capacity, progress = app_run.parse_args(
        ["--stack", "sync", "--interface", "wsgi", "--target", "m.wsgi:app", "--path", "/=2",
         "--path", "/api", "--results-dir", str(tmp_path), "--progress", "2/5@100"])
    assert capacity == {} and progress == Progress(2, 5, 100.0)
    assert dict(config.app.env) == {"API_TOKEN": "t0k", "MODE": "bench"}
    assert config.app.server_env()["API_TOKEN"] == "t0k"  # the server gets the value
    facts = config.app.facts()
    assert facts["env"] == {"API_TOKEN": MASK, "MODE": "bench"}  # the record does not
    assert facts["paths"] == [["/", 2], ["/api", 1]] and facts["load"] == "GET / x2, GET /api"
    assert config.db_latency_ms == 0 and config.app.mix() == "/:2,/api:1"


def test_capacity_for_a_users_app_pins_the_server_and_takes_the_goal(tmp_path):
    config, capacity, _ = app_run.parse_args(
        ["--stack", "uvicorn", "--interface", "asgi", "--target", "m:app", "--capacity",
         "--goal-ms", "40", "--results-dir", str(tmp_path)])
    assert capacity == {"goal_ms": 40.0} and config.vus == 0
    search = app_run.search_config(config, capacity["goal_ms"])
    assert search.goal_ms == 40.0 and search.min_requests == MIN_REQUESTS
    assert search.mix == "/:1" and search.run is config


def _app(**changes) -> UserApp:
    return UserApp(**{"name": "mysite", "interface": "wsgi", "target": "mysite.wsgi:application",
                      **changes})


def test_wsgi_and_asgi_of_one_app_share_a_key_and_another_load_does_not():
    key = _app().facts()["key"]
    assert _app(interface="asgi", target="mysite.asgi:application").facts()["key"] == key
    assert _app(paths=(Request("/"), Request("/api"))).facts()["key"] != key
    assert _app(paths=(Request("/", 1, "POST"),)).facts()["key"] != key
    assert _app(env=(("A", "1"),)).facts()["key"] != key
    assert _app(name="other").facts()["key"] != key


def _record(number: int, stack: str, app: UserApp | None, requests: int,
            started: str = "2026-11-25T01:00:00+00:00") -> dict:
    """A stored test record of ours, made over into this stack's run (of app)."""
    records, _ = read_records(ROOT / "tests" / "data" / "runs")
    made = copy.deepcopy(next(r for r in records if r["ok"] and r["stack"] == "sync"
                              and r["workers"] == 2 and r["python"] == "3.12.1"))
    made.update(stack=stack, server=STACKS[stack].server, mode=STACKS[stack].mode,
                id=f"20261125T0100{number:02d}Z-{stack}", started_at=started)
    made["metrics"]["requests"] = requests
    if app is not None:
        made.update(app=f"{app.interface.upper()} {app.target}", user_app=app.facts(),
                    db_latency_ms=0)
    return made


def test_a_users_app_gets_a_section_of_its_own_with_both_interfaces(tmp_path):
    wsgi = _app(env=(("DJANGO_SECRET_KEY", "s3cr3t"),))
    asgi = _app(interface="asgi", target="mysite.asgi:application",
                env=(("DJANGO_SECRET_KEY", "s3cr3t"),))
    records = [_record(1, "sync", wsgi, 900), _record(2, "uvicorn", asgi, 1200),
               _record(3, "sync", None, 5000)]
    text = render(records)
    assert "s3cr3t" not in text
    heading = "## Your app mysite (GET /), 2 workers"
    assert text.count(heading) == 1
    section = text.split(heading)[1].split("\n## ")[0]
    assert "WSGI `mysite.wsgi:application`" in section
    assert "ASGI `mysite.asgi:application`" in section
    assert "DJANGO_SECRET_KEY=***" in section
    main, proof = (table.split("\n")[2:] for table in section.split("\n\n")
                   if table.startswith("| "))
    assert [row.split("|")[3].strip() for row in proof] == [
        "ASGI mysite.asgi:application", "WSGI mysite.wsgi:application"]  # by requests
    assert all(row.split("|")[7].strip() == "—" for row in main)  # no ceiling for them
    assert "5,000" not in section  # our own app's run is in its own section


def test_a_session_shows_only_the_sections_it_added_to():
    old = _record(1, "sync", None, 5000, started="2026-11-24T10:00:00+00:00")
    new = _record(2, "sync", _app(), 900, started="2026-11-25T01:00:05+00:00")
    parts = sections([old, new])
    shown_now = shown_since(parts, "2026-11-25T01:00:00+00:00")
    assert len(shown_now) == 1 and shown_now[0].startswith("## Your app mysite")
    assert len(shown_since(parts, "2026-11-24T00:00:00+00:00")) == 2
    assert shown_since(parts, "2026-11-26T00:00:00+00:00") == []


def test_a_users_script_is_asked_for_the_percentiles_load_js_asks_for():
    from pyserverbench.measure.closed import TREND_STATS

    load_js = (ROOT / "load.js").read_text()
    listed = load_js.split("summaryTrendStats: [")[1].split("]")[0]
    assert [part.strip(" '") for part in listed.split(",")] == TREND_STATS.split(",")


def test_package_names_compare_as_pip_compares_them(tmp_path):
    wanted = _requirements(tmp_path, "Gunicorn<25\n")
    assert "gunicorn==27.0.1" in requirements_problem(wanted, ["sync"])
    wanted = _requirements(tmp_path, "uvicorn_worker.x==0.1\nUVICORN-Worker<0.3\n")
    problem = requirements_problem(wanted, ["uvicorn-worker"])
    assert problem and "line 2" in problem and "uvicorn-worker==0.4.0" in problem
    from pyserverbench.measure.userapp import requirement_names

    names = _requirements(tmp_path, "Django_REST.framework==1\n# x\n-r other.txt\nFlask  # web\n")
    assert requirement_names(names) == ["django-rest-framework", "flask"]


def test_a_session_on_its_own_starts_now_as_the_first_of_one():
    import re
    import time

    alone = Progress.starting()
    assert (alone.index, alone.total) == (1, 1) and abs(alone.started - time.time()) < 5
    earlier = Progress(1, 1, time.time() - 100)
    assert re.search(r"run 2 of 2: 1m4[01]s so far, about 1m4[01]s left",
                     earlier.line(1, 2, "run"))


def test_the_facts_of_a_users_app_say_where_it_came_from_and_what_it_needed(tmp_path):
    wanted = _requirements(tmp_path, "django==5.2.19\nnot-installed-here\n")
    app = _app(app_dir=tmp_path, chdir=True, env=(("Z_TOKEN", "t"), ("A", "1")),
               requirements=wanted)
    record = _record(1, "sync", app, 900)
    record["packages"]["django"] = "5.2.19"
    from pyserverbench.report.render import _app_facts

    assert _app_facts([record]) == [
        f"- Your app: WSGI `mysite.wsgi:application` from `{tmp_path}` (the server started "
        f"in it); load: GET /, closed loop with no think time; environment: A=1, Z_TOKEN=***.",
        f"- Your requirements: `{wanted}` (sha256 {app.facts()['requirements']['sha256'][:12]})"
        f": django 5.2.19, not-installed-here not installed."]
    record["kind"] = "capacity"
    bare = _record(2, "sync", _app(), 900)
    bare["kind"] = "capacity"
    assert _app_facts([bare]) == [
        "- Your app: WSGI `mysite.wsgi:application`; load: GET /, open loop at rising rates."]


def _arrived(chosen, stack: str):
    """What one stack's run makes of the arguments the session gives it."""
    [argv] = [argv for name, argv in chosen.runs if name == stack]
    return app_run.parse_args(argv)


def test_every_setting_of_the_session_reaches_each_stacks_run(tmp_path):
    """The session passes its options on to each stack's run as a new command line: a
    setting lost or misspelled there would measure something else under the same name."""
    proj = _project(tmp_path)
    (proj / "requirements.txt").write_text("flask==3.1.3\n")
    (proj / "mine.js").write_text("export default function () {}\n")
    chosen = plan(["--wsgi", "shop:app", "--app-dir", "proj", "--chdir", "--name", "shop",
                   "--requirements", "proj/requirements.txt", "--k6-script", "proj/mine.js",
                   "--path", "/=3", "--path", "/api/items=2", "--workers", "3",
                   "--threads", "6", "--vus", "7", "--duration", "9s", "--repeat", "4",
                   "--connections", "per-iteration", "--results-dir", "out"], FOUND, tmp_path)
    config, capacity, _ = _arrived(chosen, "gthread")
    assert (config.workers, config.threads, config.vus, config.duration_s, config.repeat,
            config.connections) == (3, 6, 7, 9, 4, "per-iteration")
    assert config.results_dir == tmp_path / "out" / "runs" and capacity == {}
    app = config.app
    assert (app.name, app.interface, app.target, app.app_dir, app.chdir) == (
        "shop", "wsgi", "shop:app", proj, True)
    assert app.paths == (Request("/", 3), Request("/api/items", 2))
    assert (app.k6_script, app.requirements) == (proj / "mine.js", proj / "requirements.txt")
    assert _arrived(chosen, "sync")[0].threads is None  # sync has no threads to give


@pytest.mark.parametrize(("goal", "expected"), [([], 100), (["--goal-ms", "250"], 250)])
def test_a_capacity_session_gives_each_stack_its_goal(tmp_path, goal, expected):
    chosen = plan(["--asgi", "shop:app", "--capacity", *goal], FOUND, tmp_path)
    config, capacity, _ = _arrived(chosen, "uvicorn")
    assert capacity == {"goal_ms": expected}
    assert config.app.paths == (Request("/"),) and config.app.chdir is False
