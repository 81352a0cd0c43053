"""Shared pieces of the benchmarks: start uvicorn, drive load, read server CPU time."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BACKEND = REPO / "backend"
CLK_TCK = os.sysconf("SC_CLK_TCK")


PG = os.environ.get("BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
APP_ROLE = "vigil_bench_app"


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, capture_output=True
    )


def settle(env: dict[str, str]) -> None:
    """What autovacuum does on its own shortly after a bulk load: statistics for the
    planner and the visibility map (index-only scans). This machine's PostgreSQL runs with
    autovacuum off, so a bench that measures right after seeding would otherwise measure
    plans made for empty tables, which no deployment sees for long."""
    db = env["BENCH_DATABASE_URL"].rsplit("/", 1)[1]
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qc", "VACUUM ANALYZE"],
        check=True,
        capture_output=True,
    )


def backend_python(code: str, env: dict[str, str], *, cpu: int | None = None) -> str:
    """Run `code` with the backend on the path and `env` set; return what it printed."""
    done = subprocess.run(
        [*(pin(cpu) if cpu is not None else []), sys.executable, "-c", code],
        cwd=BACKEND,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"backend script failed:\n{done.stderr[-3000:]}")
    return done.stdout


@contextmanager
def postgres_database(**settings: str) -> Iterator[dict[str, str]]:
    """A throw-away database and the environment that points Vigil at it: the app role
    under row-level security, the owner for migrations, production settings."""
    db = f"vigil_bench_{os.getpid()}"
    psql(f"CREATE DATABASE {db}")
    psql(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
        f"THEN CREATE ROLE {APP_ROLE} LOGIN NOBYPASSRLS; END IF; END $$"
    )
    owner_url = f"{PG}/{db}"
    env = {
        "VIGIL_ENV": "production",
        "VIGIL_SECRET_KEY": secrets.token_urlsafe(48),
        "VIGIL_DATABASE_URL": owner_url.replace("postgres@", f"{APP_ROLE}@"),
        "VIGIL_MIGRATION_DATABASE_URL": owner_url,
        "VIGIL_DATABASE_APP_ROLE": APP_ROLE,
        "VIGIL_WORKERS_IN_PROCESS": "false",
        "VIGIL_LOG_LEVEL": "WARNING",
        "BENCH_DATABASE_URL": owner_url,
        **settings,
    }
    try:
        yield env
    finally:
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


# With two cores, the server and the load generator each get one: left to the scheduler
# they trade places and the figures swing by a quarter from one run to the next.
SERVER_CPU, LOAD_CPU = 0, 1


def pin(cpu: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)]
    return []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def uvicorn(app: str, env: dict[str, str], *, cwd: Path = BACKEND) -> Iterator[Server]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    full_env = {**os.environ, "PYTHONPATH": f"{BACKEND}:{REPO}", **env}
    proc = subprocess.Popen(
        [*pin(SERVER_CPU), *argv],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, proc)
        yield Server(proc, port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu / max(self.requests, 1) * 1e6


def load(
    server: Server,
    path: str,
    *,
    seconds: float = 10.0,
    connections: int = 64,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    cpu_before = cpu_seconds(server.proc.pid)
    if shutil.which("wrk"):
        requests, elapsed, errors = _wrk(server.base + path, seconds, connections, headers or {})
    else:
        requests, elapsed, errors = asyncio.run(
            _python_load(server.port, path, seconds, connections, headers or {})
        )
    return LoadResult(requests, elapsed, errors, cpu_seconds(server.proc.pid) - cpu_before)


def _wrk(
    url: str, seconds: float, connections: int, headers: dict[str, str]
) -> tuple[int, float, int]:
    threads = "-t1" if pin(LOAD_CPU) else "-t2"
    argv = [*pin(LOAD_CPU), "wrk", threads, f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    elapsed = float(match.group(2)) / (1000 if match.group(3) == "ms" else 1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return int(match.group(1)), elapsed, errors


async def _python_load(
    port: int, path: str, seconds: float, connections: int, headers: dict[str, str]
) -> tuple[int, float, int]:
    """Keep-alive HTTP/1.1 GETs on `connections` sockets; a fallback when wrk is missing."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
    deadline = time.monotonic() + seconds
    done = 0
    errors = 0

    async def one_connection() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            writer.write(request)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if not status.startswith(b"HTTP/1.1 2"):
                errors += 1
            done += 1
        writer.close()

    start = time.monotonic()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return done, time.monotonic() - start, errors


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass
class Sink:
    proc: subprocess.Popen[bytes]
    port: int
    counts_file: Path

    def counts(self) -> dict[str, int]:
        """Stop the sink and return the messages it received per recipient."""
        import json

        self.proc.terminate()
        self.proc.wait(timeout=30)
        counts: dict[str, int] = json.loads(self.counts_file.read_text())
        return counts


@contextmanager
def smtp_sink(folder: Path, *, delay: float = 0.0, cpu: int = LOAD_CPU) -> Iterator[Sink]:
    """`bench/smtp_sink.py` in its own process (on the load generator's core)."""
    port_file, counts_file = folder / "sink.port", folder / "sink.counts"
    argv = [sys.executable, str(REPO / "bench" / "smtp_sink.py")]
    argv += ["--port-file", str(port_file), "--counts-file", str(counts_file)]
    proc = subprocess.Popen([*pin(cpu), *argv, "--delay", str(delay)])
    try:
        deadline = time.monotonic() + 15
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the SMTP sink did not start")
            time.sleep(0.05)
        yield Sink(proc, int(port_file.read_text()), counts_file)
    finally:
        if proc.poll() is None:
            proc.kill()
