"""Running the app: uvicorn on a socket opened here, so the URL printed is the one served."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from typing import TextIO

import uvicorn

from triage.apps.web.app import create_app
from triage.core.pack import RulePack
from triage.present import escape

KEEP_ALIVE_SECONDS = 5
"""How long an idle connection is kept open."""
MOST_CONNECTIONS = 100
"""Connections and requests served at once; past it, uvicorn answers 503."""
HEADER_BYTES = 16 << 10
"""The largest request head (line and headers) uvicorn takes."""


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free port). Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # that say they are TCP, and without it a kept-alive connection waits 40 ms per answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def url(sock: socket.socket) -> str:
    """The address a browser can open for a listening socket."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - naming the address, not binding it
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # noqa: S104
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def is_loopback(host: str) -> bool:
    """Whether a host name or address only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configure_logging(stream: TextIO) -> None:
    """Plain lines on `stream`: uvicorn's warnings and the app's own access log."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    for name, level in (("triage.web", logging.INFO), ("uvicorn.error", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def serve(pack: RulePack, sock: socket.socket, *, host: str, out: TextIO) -> None:
    """Serve the pack's questionnaire and API on a socket `listen` opened on `host` until interrupted,
    the address printed on `out` first. Raises OSError if `out` cannot take it."""
    configure_logging(sys.stderr)
    config = uvicorn.Config(
        create_app(pack),
        log_config=None,
        access_log=False,  # the app logs requests itself, without query strings (see triage.apps.web.guard)
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=MOST_CONNECTIONS,
        h11_max_incomplete_event_size=HEADER_BYTES,
        lifespan="off",
    )
    title, name, version = pack.document.title, pack.info.name, pack.info.version
    print(escape.line("Serving {} ({} {}) at {}", title, name, version, url(sock)), file=out)
    if not is_loopback(host):
        print(
            escape.line(
                "Listening on {}: other machines can reach it. Answers travel unencrypted over "
                "plain HTTP; put it behind an HTTPS proxy before real use.",
                host,
            ),
            file=out,
        )
    print("Press Ctrl-C to stop.", file=out, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
