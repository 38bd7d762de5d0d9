"""App replicas behind nginx: the nginx configuration (sticky sessions, websockets) and a launcher.

A browser's first request goes to the next replica in turn (round robin), and its response sets
a `dashboard_route` cookie naming that replica (r0, r1, ...); later requests follow the cookie, so
the page, its websocket and its uploads all reach the replica holding the session. Open-source
nginx has no `sticky` directive; `ip_hash` would send every user behind one proxy (or every test
client on loopback) to the same replica, and hashing a random cookie split 30 sessions 17/13 where
turns split them 15/15 (each replica runs its sessions' pages on one core: the busier one sets the
waits)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lib.store.db import ROOT

NGINX = Path("/usr/sbin/nginx")
ROUTE_COOKIE = "dashboard_route"
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws: wss:; "
    "frame-src 'self'; frame-ancestors 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'"
)


def nginx_config(listen_port: int, upstream_ports: list[int], folder: Path) -> str:
    """An nginx.conf serving the replicas on loopback (no TLS: see the README for production)."""
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=0;" for p in upstream_ports)
    pinned = "\n".join(
        f"  upstream replica_{n} {{ server 127.0.0.1:{p} max_fails=0; }}"
        for n, p in enumerate(upstream_ports)
    )
    by_cookie = " ".join(f"r{n} replica_{n};" for n in range(len(upstream_ports)))
    by_address = " ".join(f'"127.0.0.1:{p}" r{n};' for n, p in enumerate(upstream_ports))
    temp = folder / "nginx_tmp"
    temp.mkdir(parents=True, exist_ok=True)
    return f"""
worker_processes 1;
daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "nginx_error.log"} warn;
events {{ worker_connections 1024; }}
http {{
  access_log {folder / "nginx_access.log"};
  client_body_temp_path {temp / "body"};
  proxy_temp_path {temp / "proxy"};
  fastcgi_temp_path {temp / "fastcgi"};
  uwsgi_temp_path {temp / "uwsgi"};
  scgi_temp_path {temp / "scgi"};
  map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
  # sticky sessions: a request without a (known) route cookie goes to the next replica in turn,
  # and the response names that replica in the cookie; a request with one goes to its replica
  upstream dashboard {{
{servers}
  }}
{pinned}
  map $cookie_{ROUTE_COOKIE} $route_pool {{ default dashboard; {by_cookie} }}
  map $upstream_addr $served_route {{ default ""; {by_address} }}
  server {{
    listen 127.0.0.1:{listen_port};
    client_max_body_size 200m;
    add_header Set-Cookie "{ROUTE_COOKIE}=$served_route; Path=/; HttpOnly; SameSite=Lax" always;
    add_header X-Upstream $upstream_addr always;
    # security headers (tested with the app in chromium: no CSP violation). The components'
    # iframes are served by the app itself, hence frame-ancestors/X-Frame-Options same origin.
    add_header Content-Security-Policy "{CSP}" always;
    add_header X-Frame-Options SAMEORIGIN always;
    add_header X-Content-Type-Options nosniff always;
    add_header Referrer-Policy same-origin always;
    location / {{
      proxy_pass http://$route_pool;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 86400;
      proxy_buffering off;
    }}
  }}
}}
"""


def wait_for_http(url: str, seconds: float = 120) -> bool:
    """Whether `url` answered 200 within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """Running replicas (their pids and base URLs) and the nginx in front of them (if any)."""

    replicas: list[tuple[int, str]] = field(default_factory=list)  # (pid, base URL)
    front: str | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.front or self.replicas[0][1]


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def streamlit_command(port: int, extra: tuple[str, ...] = ()) -> list[str]:
    """`streamlit run Home.py`, headless on loopback at `port`, with `extra` options."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "Home.py",
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
        *extra,
    ]


@contextmanager
def streamlit_app(
    env: dict[str, str], port: int, log_path: Path, extra: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen]:
    """The app running on loopback at `port` (this environment plus `env`, output to `log_path`)
    until the block ends; whether it answers yet is the caller's to wait for."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            streamlit_command(port, extra),
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            _stop(proc)


@contextmanager
def serve(
    env: dict[str, str], folder: Path, replicas: int = 2, *, nginx: bool = True
) -> Iterator[Cluster]:
    """Start `replicas` x `streamlit run Home.py` on loopback (and nginx in front); stop them after."""
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster()
    with ExitStack() as stack:
        ports = [free_port() for _ in range(replicas)]
        for port in ports:
            log_path = folder / f"replica_{port}.log"
            proc = stack.enter_context(streamlit_app(env, port, log_path))
            cluster.replicas.append((proc.pid, f"http://127.0.0.1:{port}"))
            cluster.logs.append(log_path)
        for _, base in cluster.replicas:
            if not wait_for_http(f"{base}/_stcore/health"):
                raise RuntimeError(f"replica {base} did not start: see {folder}")
        if nginx:
            front_port = free_port()
            conf = folder / "nginx.conf"
            conf.write_text(nginx_config(front_port, ports, folder))
            log = stack.enter_context(open(folder / "nginx_stdout.log", "w"))
            proc = subprocess.Popen(
                [str(NGINX), "-c", str(conf), "-p", str(folder)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, proc)
            cluster.front = f"http://127.0.0.1:{front_port}"
            if not wait_for_http(f"{cluster.front}/_stcore/health", 30):
                raise RuntimeError(
                    f"nginx did not start: {(folder / 'nginx_error.log').read_text()}"
                )
        yield cluster


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0
