"""A scriptable fake HTTP API: records every request and can be told to fail, hang,
rate-limit or drop the connection, from Python or over HTTP (`/__fake__/…`)."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes
    at: float
    status: int | None = None

    def json(self):
        return json.loads(self.body)


@dataclass
class Behaviour:
    """What the next matching request gets instead of the normal answer."""

    status: int | None = None
    body: dict | None = None
    hang: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without an answer
    retry_after: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "Behaviour":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Reply:
    status: int
    body: object = None
    headers: dict = field(default_factory=dict)


class FakeApi:
    name = "fake"
    scripted_paths: tuple[str, ...] = ()  # prefixes whose requests consume the script

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.script: list[Behaviour] = []
        self.rate_limit: int | None = None  # scripted requests per second, then 429
        self._window: tuple[int, int] = (0, 0)
        self._server: ThreadingHTTPServer | None = None

    # --- to override ---------------------------------------------------------------
    def route(self, method: str, path: str, headers: dict, body: bytes) -> Reply:
        raise NotImplementedError

    def reset_state(self) -> None:
        pass

    def state(self) -> dict:
        return {}

    # --- control ---------------------------------------------------------------------
    def push(self, *behaviours: Behaviour | dict) -> None:
        with self.lock:
            for b in behaviours:
                self.script.append(b if isinstance(b, Behaviour) else Behaviour.from_dict(b))

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.script.clear()
            self.rate_limit = None
            self.reset_state()

    def recorded(self, path_prefix: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # --- serving ---------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> "FakeApi":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK hold every answer back ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake._serve(self, self.command, body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # A real server's listen backlog, not socketserver's 5: with more connections
            # arriving at once (a worker's 20 senders, two workers) the kernel would drop
            # them, and the client would see resets and retries no real nps.today causes.
            request_queue_size = 128

            def handle_error(self, request, client_address):
                # A client that hung up (a killed worker) is part of the script, not an error.
                import sys

                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._server = Server((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _next_behaviour(self, path: str) -> Behaviour | None:
        if not any(path.startswith(p) for p in self.scripted_paths):
            return None
        with self.lock:
            if self.rate_limit is not None:
                second, count = self._window
                now = int(time.time())
                count = count + 1 if second == now else 1
                self._window = (now, count)
                if count > self.rate_limit:
                    return Behaviour(status=429, retry_after="1", body={"message": "rate limited"})
            return self.script.pop(0) if self.script else None

    def _serve(self, handler, method: str, body: bytes) -> None:
        path = urlparse(handler.path).path
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if path.startswith("/__fake__/"):
            return self._write(handler, self._control(method, path, body))
        record = Recorded(method, handler.path, headers, body, time.time())
        with self.lock:
            self.requests.append(record)
        behaviour = self._next_behaviour(path)
        if behaviour and behaviour.hang:
            time.sleep(behaviour.hang)
        if behaviour and behaviour.drop:
            handler.close_connection = True
            handler.connection.close()
            return None
        if behaviour and behaviour.status:
            reply = Reply(behaviour.status, behaviour.body or {"message": "scripted failure"})
            if behaviour.retry_after:
                reply.headers["Retry-After"] = behaviour.retry_after
        else:
            reply = self.route(method, path, headers, body)
        record.status = reply.status
        return self._write(handler, reply)

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        payload = json.loads(body) if body else {}
        if path == "/__fake__/script" and method == "POST":
            self.push(*payload.get("behaviours", []))
            if "rate_limit" in payload:
                self.rate_limit = payload["rate_limit"]
            return Reply(200, {"queued": len(self.script)})
        if path == "/__fake__/reset" and method == "POST":
            self.reset()
            return Reply(200, {"reset": True})
        if path == "/__fake__/state":
            requests = [
                {
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "at": r.at,
                    "key": r.headers.get("authorization", ""),
                    "body": r.body.decode(errors="replace"),
                }
                for r in self.recorded()
            ]
            return Reply(200, {"requests": requests, **self.state()})
        return Reply(404, {"message": "unknown control path"})

    @staticmethod
    def _write(handler, reply: Reply) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)
