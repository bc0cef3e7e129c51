"""Reference backend for the dev-process coordinator (DESIGN.md sections 5 and 9).

Run it as `python backend/main.py`. The coordinator sets BACKEND_HOST, BACKEND_PORT,
CORRELATION_ID, FRONTEND_URL and FRONTEND_ORIGINS (the browser origins allowed by CORS);
DEMO_DB_PATH overrides where the SQLite database lives. With REDIS_URL set
(`redis://127.0.0.1:6379/0`), the cache is that Redis server (a service beside the
backend, as most apps have one); without it, an in-process cache.
"""

import asyncio
import base64
import hashlib
import logging
import json
import os
import sqlite3
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse

SERVICE = "demo-backend"
VERSION = "0.1.0"
# The coordinator decides whether a running backend is "ours" by comparing this path
# with its own checkout, so it must not depend on the current directory.
WORKSPACE = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = WORKSPACE / "backend" / ".state" / "demo.db"
CHECK_TIMEOUT = 1.0  # seconds; keeps /health well inside the coordinator's request timeout
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # fixed by RFC 6455 for Sec-WebSocket-Accept

log = logging.getLogger(SERVICE)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


STARTED_AT = utc_now()


class TTLCache:
    """A small dict-backed cache whose entries expire after a per-entry time to live."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, object]] = {}

    def set(self, key: str, value: object, ttl: float) -> None:
        self._entries[key] = (time.monotonic() + ttl, value)

    def get(self, key: str) -> object | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if time.monotonic() >= expires_at:
            del self._entries[key]
            return None
        return value

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)


cache = TTLCache()


def redis_client():
    """The Redis server at REDIS_URL, if one is configured (None otherwise). The client
    connects lazily and again after a failure, so a Redis restarted during the run makes
    the cache healthy again without restarting the backend."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return None
    import redis.asyncio as aioredis  # only apps that use Redis need the package loaded

    return aioredis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT,
        retry_on_timeout=False,
    )


redis_cache = redis_client()
app = FastAPI(title=SERVICE, version=VERSION)


def allowed_origins() -> list[str]:
    """The browser origins that may call this backend: the frontend's own (FRONTEND_URL,
    set by the coordinator to the port it settled on) and any extra ones it passes in
    FRONTEND_ORIGINS (`[frontend] origins`, e.g. an Electron `app://` scheme)."""
    port = os.environ.get("FRONTEND_PORT", "5173")
    own = os.environ.get("FRONTEND_URL") or f"http://127.0.0.1:{port}"
    extra = os.environ.get("FRONTEND_ORIGINS", "").replace(",", " ").split()
    return [own, *extra]


def allowed_hosts() -> list[str]:
    """The Host headers this backend answers: its own loopback address. Anything else is
    a DNS-rebinding page that resolved its own name to 127.0.0.1, and is refused."""
    host = os.environ.get("BACKEND_HOST", "127.0.0.1")
    # Wildcards are reached on loopback (as the coordinator probes them); Starlette keeps
    # the brackets of an IPv6 literal.
    own = {"0.0.0.0": "127.0.0.1", "localhost": "127.0.0.1", "::": "[::1]", "::1": "[::1]"}
    return sorted({own.get(host, host), "localhost"})


def live_frontend_origins() -> set[str]:
    """The frontends of the live `dev` runs of this checkout (`.dev/runs/*.json`): a
    second run reuses this backend with its frontend on another port, and its page must
    be able to read /health too. Only runs whose `dev` process still exists count."""
    origins = set()
    for record in (WORKSPACE / ".dev" / "runs").glob("*.json"):
        try:
            run = json.loads(record.read_text())
            os.kill(int(run["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        port = run.get("frontend_port")
        if isinstance(port, int):
            origins.update({f"http://127.0.0.1:{port}", f"http://localhost:{port}"})
    return origins


class RunsCORSMiddleware(CORSMiddleware):
    """CORS for the configured origins, plus the frontends of this checkout's live runs
    (read when a request asks, so that a run started later is allowed too)."""

    def is_allowed_origin(self, origin: str) -> bool:
        return super().is_allowed_origin(origin) or origin in live_frontend_origins()


# The page is served by the frontend's own server on another port, so the browser needs
# CORS to read /health; only the frontends' origins get it, so no other web page a
# developer visits can read /health (pid, checkout path) or call the API.
app.add_middleware(
    RunsCORSMiddleware, allow_origins=allowed_origins(), allow_methods=["*"],
    allow_headers=["X-Correlation-ID", "Content-Type"], expose_headers=["X-Correlation-ID"],
)
# Added after CORS, so it is outside it: a foreign Host is refused before CORS or any
# route sees the request (the request log below is outside both, so refusals are logged).
app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts())


# Registered after CORS so that it is outside it and also logs preflight requests.
@app.middleware("http")
async def correlation_id(request: Request, call_next):
    cid = request.headers.get("x-correlation-id")
    start = time.perf_counter()
    response = await call_next(request)
    elapsed_ms = (time.perf_counter() - start) * 1000
    log.info("correlation_id=%s %s %s %d %.1fms", cid or "-", request.method,
             request.url.path, response.status_code, elapsed_ms)
    if cid:
        response.headers["X-Correlation-ID"] = cid
    return response


def check_database() -> None:
    configured = os.environ.get("DEMO_DB_PATH")
    path = Path(configured) if configured else DEFAULT_DB_PATH
    # Only the default location is ours to create; a missing directory in a path the
    # user chose is a real fault that the health report must show.
    if not configured:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=CHECK_TIMEOUT)
    try:
        token = uuid.uuid4().hex
        # A single upserted row proves writes and reads without growing the file. The read
        # happens inside the write's transaction, so concurrent checks cannot interleave.
        with conn:
            conn.execute("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, token TEXT)")
            conn.execute("INSERT OR REPLACE INTO probe (id, token) VALUES (1, ?)", (token,))
            (stored,) = conn.execute("SELECT token FROM probe WHERE id = 1").fetchone()
        if stored != token:
            raise RuntimeError("read back a different value than was written")
    finally:
        conn.close()


# SQLite's busy handler waits with growing sleeps, so simultaneous checks (several pages
# polling at once) would time each other out; queueing them in-process keeps each one fast.
db_check_lock = asyncio.Lock()


async def check_database_queued() -> None:
    async with db_check_lock:
        await asyncio.to_thread(check_database)


async def check_cache() -> None:
    key, value = f"health:{uuid.uuid4().hex}", uuid.uuid4().hex
    if redis_cache is not None:
        # A real round trip: written with a time to live, read back, removed.
        await redis_cache.set(key, value, px=5000)
        try:
            if await redis_cache.get(key) != value.encode():
                raise RuntimeError("value read back from Redis differs from the value written")
        finally:
            await redis_cache.delete(key)
        return
    cache.set(key, value, ttl=5)
    try:
        if cache.get(key) != value:
            raise RuntimeError("value read back differs from the value written")
    finally:
        cache.delete(key)


async def check_websocket(host: str, port: int) -> None:
    """Perform a real websocket handshake on /ws against this very server."""
    key = base64.b64encode(os.urandom(16)).decode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        writer.write((f"GET /ws HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line = head.split("\r\n", 1)[0]
        if status_line.split(" ")[1:2] != ["101"]:
            raise RuntimeError(f"upgrade refused: {status_line}")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if f"sec-websocket-accept: {accept.lower()}" not in head.lower():
            raise RuntimeError("handshake returned a wrong Sec-WebSocket-Accept")
    finally:
        writer.close()


async def run_check(check) -> dict:
    try:
        await asyncio.wait_for(check, timeout=CHECK_TIMEOUT)
        return {"status": "ok"}
    except asyncio.TimeoutError:
        return {"status": "error", "error": f"timed out after {CHECK_TIMEOUT:g}s"}
    except Exception as exc:  # any failure is reported, never raised: /health must answer
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}


@app.get("/health")
async def health(request: Request) -> JSONResponse:
    # The address the client reached us on is the one known to accept connections,
    # even when binding to a wildcard address or to port 0.
    host, port = request.scope["server"]
    cache_status, db_status, ws_status = await asyncio.gather(
        run_check(check_cache()), run_check(check_database_queued()),
        run_check(check_websocket(host, port)),
    )
    services = {"cache": cache_status, "database": db_status, "websocket": ws_status}
    healthy = all(s["status"] == "ok" for s in services.values())
    body = {
        "status": "healthy" if healthy else "degraded", "service": SERVICE, "version": VERSION,
        "pid": os.getpid(), "workspace": str(WORKSPACE), "started_at": STARTED_AT,
        "timestamp": utc_now(), "services": services,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


@app.websocket("/ws")
async def websocket_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass  # the client went away; nothing is left to clean up


class HideWebSocketChatter(logging.Filter):
    """Drop uvicorn's per-connection websocket lines.

    Every /health call opens a websocket to this server and the frontend polls once a
    second, so these lines would bury the request log. Rejections and errors still pass.
    """

    QUIET = ('%s - "WebSocket %s" [accepted]', "connection open")

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self.QUIET


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    # Uvicorn's logging setup keeps filters already attached to its loggers.
    logging.getLogger("uvicorn.error").addFilter(HideWebSocketChatter())
    host = os.environ.get("BACKEND_HOST", "127.0.0.1")
    raw_port = os.environ.get("BACKEND_PORT", "8000")
    if not raw_port.isdigit() or int(raw_port) > 65535:
        sys.exit(f"error: BACKEND_PORT must be an integer from 0 to 65535, got {raw_port!r}")
    port = int(raw_port)
    log.info("starting %s %s correlation_id=%s host=%s port=%d pid=%d workspace=%s", SERVICE,
             VERSION, os.environ.get("CORRELATION_ID", "-"), host, port, os.getpid(), WORKSPACE)
    # Uvicorn's own error log reports a bind failure ("address already in use") on stderr
    # and exits non-zero; the coordinator relies on both. The access log is off because
    # the middleware above already logs each request with its correlation ID.
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False,
                timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
