"""A user app's secrets: which names are secret, URL passwords and `?password=`, values
kept off command lines (--env-file, --env-from), and every kept value masked wherever this
process writes it (records, the terminal)."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from helpers import DATA

from pyserverbench.harness import redact
from pyserverbench.measure.appenv import (
    env_file,
    env_from,
    env_pair,
    masked,
    secret_values,
    shown,
)
from pyserverbench.records import write_record


@pytest.fixture(autouse=True)
def _no_kept_secrets():
    redact.forget_secrets()
    yield
    redact.forget_secrets()


@pytest.mark.parametrize("name", ["DB_PASS", "PGPASSWORD", "PGPASS", "PASSWD", "MYSQL_PWD",
                                  "AUTH", "BASIC_AUTH", "CREDENTIALS", "GOOGLE_CREDENTIAL",
                                  "JWT", "PRIVATE_PEM", "SENTRY_DSN", "api_key", "SECRET",
                                  "GH_TOKEN", "DB_PASSWORD"])
def test_every_secret_looking_name_is_masked(name):
    assert masked({name: "s3cr3t-value"}) == {name: "***"}


def test_a_urls_password_and_secret_query_values_are_masked_whatever_the_name():
    assert shown("DB_URL", "postgres://me:pw123@db:5432/x") == "postgres://me:***@db:5432/x"
    assert shown("DB_URL", "postgres://db/x?user=me&password=pw123&sslmode=require") == \
        "postgres://db/x?user=me&password=***&sslmode=require"
    assert shown("CACHE", "redis://cache:6379/0?token=abc&db=1") == \
        "redis://cache:6379/0?token=***&db=1"
    assert shown("MODE", "plain") == "plain" and shown("X", "a?password=b") == "a?password=b"
    assert secret_values([("DB_URL", "postgres://me:pw123@db/x?password=qq1234"),
                          ("API_KEY", "k-123456"), ("MODE", "bench")]) == \
        ["pw123", "qq1234", "k-123456"]


@pytest.mark.parametrize("text", ["DB_URL=postgres://me:pw-secret@db:abc/x",
                                  "MY-PASS=pw-secret", "PASS pw-secret"])
def test_a_bad_pair_is_refused_in_one_line_without_its_value(text):
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        env_pair(text)
    assert "pw-secret" not in str(refused.value) and "\n" not in str(refused.value)
    assert "accepted:" in str(refused.value)


def test_an_env_file_gives_its_pairs_and_names_a_bad_line_by_number(tmp_path):
    good = tmp_path / "app.env"
    good.write_text("# for the shop\n\nexport DB_PASS=pw 1\nMODE = bench\n")
    assert env_file(str(good)) == [("DB_PASS", "pw 1"), ("MODE", "bench")]
    bad = tmp_path / "bad.env"
    bad.write_text("MODE=bench\nthe-password-is-hunter2\n")
    with pytest.raises(argparse.ArgumentTypeError, match=rf"^{bad}:2 is not NAME=VALUE") as e:
        env_file(str(bad))
    assert "hunter2" not in str(e.value)
    with pytest.raises(argparse.ArgumentTypeError, match="is not a readable text file"):
        env_file(str(tmp_path / "missing.env"))


def test_env_from_takes_the_value_out_of_our_environment(monkeypatch):
    monkeypatch.setenv("SHOP_DB_PASS", "from-the-env")
    assert env_from("SHOP_DB_PASS") == ("SHOP_DB_PASS", "from-the-env")
    import os

    assert "SHOP_DB_PASS" not in os.environ  # pip, k6 and the report do not inherit it
    with pytest.raises(argparse.ArgumentTypeError, match="'SHOP_DB_PASS' is not set"):
        env_from("SHOP_DB_PASS")


def test_a_kept_secret_is_masked_in_records_and_on_the_terminal(tmp_path):
    redact.keep_secret(["pw123456", "1"])  # `1` is too short to hunt for
    record = {**json.loads((DATA / "runs" / "a-uvicorn.json").read_text()),
              "error": "server log: connect failed for postgres://me:pw123456@db/x (1)"}
    path = write_record(tmp_path, record)
    written = path.read_text()
    assert "pw123456" not in written and "postgres://me:***@db/x (1)" in written
    out = io.StringIO()
    stream = redact.Scrubbed(out)
    stream.write("error: pw12")
    stream.write("3456 refused\n")  # one line, written in two parts
    stream.write("pw123456")
    stream.flush()
    assert out.getvalue() == "error: *** refused\n***"
