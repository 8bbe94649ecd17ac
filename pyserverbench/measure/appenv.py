"""The environment a user's app is given (`--env`, `--env-file`, `--env-from`), which of
its values are secrets, and how records and output show them. Standard library only:
the noxfile uses it."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pyserverbench.harness.redact import MASK

# A name holding one of these is a secret's. PASS covers PASSWORD, PASSWD and PGPASS;
# KEY covers API_KEY and DJANGO_SECRET_KEY.
SECRET_WORDS = ("PASS", "PWD", "AUTH", "CREDENTIAL", "JWT", "PRIVATE", "DSN", "KEY",
                "SECRET", "TOKEN")
RESERVED_ENV = ("PATH", "HOME", "LANG", "PYTHONPATH")  # the clean room sets these
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACCEPTED = "accepted: a name of letters, digits and _, like DJANGO_SETTINGS_MODULE=x"


def _name(name: str, given: str) -> str:
    """name, checked: a plain name the harness does not set. `given` is how the error
    names it (never with a value, which may be a secret)."""
    if not NAME.match(name):
        raise argparse.ArgumentTypeError(f"{given} is not NAME=VALUE ({ACCEPTED})")
    if name in RESERVED_ENV or name.startswith("PYSERVERBENCH_"):
        raise argparse.ArgumentTypeError(
            f"{name!r} is set by the harness (its clean room: {', '.join(RESERVED_ENV)}, "
            f"PYSERVERBENCH_*); accepted: any other name; use --app-dir for the import path")
    return name


def _checked(name: str, value: str, given: str) -> tuple[str, str]:
    if "://" in value:
        try:
            urlsplit(value).port  # noqa: B018 (raises on a port that is not a number)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"{given}: the value of {name} is not a URL that can be read ({exc}; "
                f"accepted: like postgres://user:password@host:5432/db)") from None
    return name, value


def env_pair(text: str) -> tuple[str, str]:
    """`NAME=VALUE` for the app's environment (its value only after `--env`'s checks)."""
    name, sep, value = text.partition("=")
    if not sep:  # not echoed: it may be a secret given without its name
        raise argparse.ArgumentTypeError(f"a value without '=' is not NAME=VALUE ({ACCEPTED})")
    return _checked(_name(name, repr(f"{_head(name)}=...")), value, f"--env {name}")


def _head(text: str) -> str:
    """What an error may show of text that may hold a secret: its first 40 characters
    up to any `=`."""
    return text.partition("=")[0][:40]


def env_file(text: str) -> list[tuple[str, str]]:
    """The NAME=VALUE lines of a file (blank lines and `#` comments skipped): values kept
    off every command line."""
    path = Path(text).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a readable text file "
                                         f"({type(exc).__name__})") from None
    pairs = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        where = f"{text}:{number}"
        if not sep:
            raise argparse.ArgumentTypeError(f"{where} is not NAME=VALUE ({ACCEPTED})")
        pairs.append(_checked(_name(name.strip(), where), value.strip(), where))
    return pairs


def env_from(text: str) -> tuple[str, str]:
    """NAME=its value in our environment, then removed from it, so that nothing this
    process starts but the server (pip, k6, the report) inherits it."""
    name = _name(text, repr(text[:40]))
    if name not in os.environ:
        raise argparse.ArgumentTypeError(f"{name!r} is not set in this environment "
                                         f"(accepted: the name of a variable that is)")
    return _checked(name, os.environ.pop(name), f"--env-from {name}")


def given_env(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Every pair the options gave, in the order --env-file, --env-from, --env (the
    last given of a name wins)."""
    return [*(pair for pairs in args.env_files for pair in pairs), *args.env_from, *args.env]


def secret(name: str) -> bool:
    """A name whose value is never written or shown."""
    return any(word in name.upper() for word in SECRET_WORDS)


_QUERY_SECRET = re.compile(r"(?P<key>[^&=?#]+)=(?P<value>[^&#]*)")


def shown(name: str, value: str) -> str:
    """The value as records and output show it: masked for a secret name; else a URL's
    password and each of its query values under a secret key (`?password=`) masked."""
    if secret(name):
        return MASK
    parts = urlsplit(value)
    if not parts.scheme:
        return value
    if parts.password:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        parts = parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}{port}")
    query = _QUERY_SECRET.sub(lambda m: f"{m['key']}={MASK}" if secret(m["key"]) else m[0],
                              parts.query)
    return urlunsplit(parts._replace(query=query))


def masked(env: dict[str, str]) -> dict[str, str]:
    return {name: shown(name, value) for name, value in env.items()}


def secret_values(env: Iterable[tuple[str, str]]) -> list[str]:
    """The secrets in env to hunt for in text: values of secret names, URL passwords and
    query values under secret keys."""
    found = []
    for name, value in env:
        if secret(name):
            found.append(value)
            continue
        parts = urlsplit(value)
        if parts.scheme and parts.password:
            found.append(parts.password)
        if parts.scheme:
            found += [m["value"] for m in _QUERY_SECRET.finditer(parts.query)
                      if secret(m["key"])]
    return [value for value in found if value]
