"""Real services on loopback for the scale-out tests and bench: PostgreSQL, Redis, dagster-celery workers.

Why a harness and not mocks: what must be shown is that tasks survive a dead worker on the real
broker and that a Postgres-backed instance serves several processes; only the real engines show it.
Each service runs from a fresh temp directory on a free port and is stopped (and its directory
removed) by its context manager. PostgreSQL refuses to run as root, so as root it runs as the
`postgres` system user when present, else `nobody` (via `runuser`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from archsearch.common import REPO_ROOT

REPO = REPO_ROOT
PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
POSTGRES_YAML = REPO / "deploy" / "dagster.postgres.yaml"


class ServiceError(RuntimeError):
    """A service did not start; the message says which, with the tail of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in PG_BIN_DIRS:
        if (Path(d) / name).is_file():
            return str(Path(d) / name)
    raise ServiceError(
        f"PostgreSQL's `{name}` not found on PATH or in {', '.join(PG_BIN_DIRS)} (apt-get install postgresql)"
    )


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run the scale tests (empty when all is there)."""
    missing = []
    for tool in ("initdb", "pg_ctl"):
        try:
            _pg_tool(tool)
        except ServiceError as exc:
            missing.append(str(exc))
    if not shutil.which("redis-server"):
        missing.append("redis-server not on PATH (apt-get install redis-server)")
    for module in ("dagster_celery", "dagster_postgres", "redis"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"python package {module} (pip install -e '.[scale]')")
    return missing


def _run_as() -> str | None:
    """The user PostgreSQL runs as: None (ourselves) unless we are root, which it refuses."""
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return user
    raise ServiceError("running as root and neither a `postgres` nor a `nobody` user exists for PostgreSQL")


def _as_user(user: str | None, argv: list[str]) -> list[str]:
    return argv if user is None else ["runuser", "-u", user, "--", *argv]


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<port> with trust auth and one database."""

    port: int
    datadir: Path
    user: str | None
    db: str = "dagster"
    username: str = "archsearch"

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.postgres.yaml reads."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.db,
            "DAGSTER_PG_USERNAME": self.username,
            "DAGSTER_PG_PASSWORD": "unused-trust-auth",
        }


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    user = _run_as()
    datadir = Path(tempfile.mkdtemp(prefix="archsearch-pg-"))
    if user:
        info = pwd.getpwnam(user)
        os.chown(datadir, info.pw_uid, info.pw_gid)
    pg = Postgres(port=free_port(), datadir=datadir, user=user)
    log = datadir / "server.log"
    try:
        subprocess.run(
            _as_user(
                user,
                [
                    _pg_tool("initdb"),
                    "-D",
                    str(datadir / "data"),
                    "-U",
                    pg.username,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            ),
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        opts = f"-p {pg.port} -h 127.0.0.1 -k {datadir} -F -c fsync=off -c full_page_writes=off"
        out = subprocess.run(
            _as_user(
                user,
                [
                    _pg_tool("pg_ctl"),
                    "-D",
                    str(datadir / "data"),
                    "-l",
                    str(log),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ),
            capture_output=True,
            text=True,
            timeout=90,
        )
        if out.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else out.stderr
            raise ServiceError(f"PostgreSQL did not start on port {pg.port}: {tail}")
        subprocess.run(
            _as_user(user, [_pg_tool("createdb"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", pg.username, pg.db]),
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield pg
    except subprocess.CalledProcessError as exc:
        raise ServiceError(f"PostgreSQL setup failed: {' '.join(exc.cmd)}: {exc.stderr}") from exc
    finally:
        subprocess.run(
            _as_user(user, [_pg_tool("pg_ctl"), "-D", str(datadir / "data"), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(datadir, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1:<port>, no persistence; yields its URL."""
    import redis

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="archsearch-redis-"))
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--logfile",
            str(workdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (workdir / "redis.log").read_text()[-2000:] if (workdir / "redis.log").exists() else ""
                    raise ServiceError(f"redis-server did not start on port {port}: {log}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def write_instance(dagster_home: Path) -> None:
    """$DAGSTER_HOME/dagster.yaml = the shipped Postgres example, unchanged."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(POSTGRES_YAML, dagster_home / "dagster.yaml")


@dataclass
class Worker:
    """One `dagster-celery worker start` process tree (CLI -> celery main -> one pool process)."""

    name: str
    proc: subprocess.Popen
    log: Path

    def kill_hard(self) -> None:
        """SIGKILL the whole tree at once, as when its machine dies: no graceful requeue, no ack."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill_hard()
        # Pool processes orphaned by a killed parent exit on their own; make sure none lingers.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@dataclass
class Cluster:
    """Workers sharing one broker and one worker config file."""

    env: dict[str, str]
    config_yaml: Path
    logdir: Path
    workers: dict[str, Worker] = field(default_factory=dict)

    def start_worker(self, name: str, queue: str = "cpu", concurrency: int = 1) -> Worker:
        exe = str(Path(sys.executable).with_name("dagster-celery"))
        log = self.logdir / f"{name}.log"
        argv = [
            exe,
            "worker",
            "start",
            "-A",
            "dagster_celery.app",
            "-y",
            str(self.config_yaml),
            "-q",
            queue,
            "-n",
            name,
            "-l",
            "INFO",
            "--",
            "-c",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
        ]
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = Worker(name, proc, log)
        self.workers[name] = worker
        return worker

    def wait_ready(self, names: list[str], timeout: float = 90.0) -> None:
        """Block until every named worker answers a broadcast ping through the broker."""
        from celery import Celery

        app = Celery(broker=self.env["ARCHSEARCH_CELERY_BROKER"])
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                for n in names:
                    if self.workers[n].proc.poll() is not None:
                        raise ServiceError(f"celery worker {n} exited: {self.workers[n].log.read_text()[-3000:]}")
                replies = app.control.ping(timeout=1.0) or []
                up = {host.split("@")[0] for reply in replies for host in reply}
                if set(names) <= up:
                    return
            raise ServiceError(f"celery workers {names} not ready after {timeout:.0f} s")
        finally:
            app.close()

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()


@contextlib.contextmanager
def celery_cluster(base_env: Mapping[str, str], logdir: Path) -> Iterator[Cluster]:
    """A worker config written by `python -m pipelines.executors celery-yaml` from `base_env`."""
    env = dict(base_env)
    # `dagster-celery worker start` execs `celery` by name: the venv's bin must come first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    logdir.mkdir(parents=True, exist_ok=True)
    config_yaml = logdir / "celery.yaml"
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.executors", "celery-yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        raise ServiceError(f"python -m pipelines.executors celery-yaml failed: {out.stderr}")
    config_yaml.write_text(out.stdout)
    cluster = Cluster(env=env, config_yaml=config_yaml, logdir=logdir)
    try:
        yield cluster
    finally:
        cluster.stop()
