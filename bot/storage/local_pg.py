"""A throwaway PostgreSQL server on 127.0.0.1 for the tests, `influbot bench --db postgres` and `make scale-test`.

Uses the server binaries of the machine (Debian's `postgresql` package; `make pg` installs it). As root the
server runs as the `postgres` system user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """initdb + pg_ctl in a temporary folder; `url` is ready after `start()`."""

    def __init__(self, fast: bool = True, max_connections: int = 200):
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL server binaries (pg_ctl); install them with `make pg`")
        self.fast = fast
        self.max_connections = max_connections
        self.dir = Path(tempfile.mkdtemp(prefix="influbot-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = None if os.geteuid() != 0 else "postgres"
        self.url = f"postgresql://influbot@127.0.0.1:{self.port}/influbot"

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, user=self.user, timeout=120)

    def start(self) -> str:
        if self.user:
            os.chown(self.dir, pwd.getpwnam(self.user).pw_uid, -1)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "influbot", "-A", "trust", "--no-sync", "-E", "UTF8")
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            f"-c unix_socket_directories={self.dir}",
            f"-c max_connections={self.max_connections}",
        ]
        if self.fast:  # tests: durability off (the server is thrown away anyway)
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-o", " ".join(options), "-w", "start"
        )
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "influbot", "influbot")
        return self.url

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                user=self.user,
                timeout=60,
            )
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
