"""Example webhook receiver: verifies VoiceForge's signature, refuses stale timestamps, deduplicates by event id.

    python examples/webhook_receiver.py --secret whsec_... [--port 8123] [--fail-first 2 [--retry-after 60]]

Each delivery is a POST whose body is a completion event envelope (schemas/completions.asyncapi.json) with:
  X-VoiceForge-Timestamp   Unix seconds when this attempt was signed
  X-VoiceForge-Signature   "v1=" + hex HMAC-SHA256(secret, timestamp + "." + raw body)  (comma-separated if several)
  X-VoiceForge-Event-Id    the envelope id: the same on every retry of one event, so deduplicate by it
  X-VoiceForge-Attempt     1, 2, ...
Answer 2xx quickly once the event is stored; anything else (or no answer within 10 s) is retried with exponential
backoff; a 429 or 503 answer with a Retry-After header (seconds, or an HTTP date; at most an hour) is not retried
sooner. ``--fail-first N`` answers 500 to the first N attempts of each event, to watch the retries, or with
``--retry-after S`` 503 and "Retry-After: S" (a receiver asking for time, e.g. while it is being deployed).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 300


def verify(secret: str, timestamp: str | None, signatures: str | None, body: bytes, now: float | None = None) -> bool:
    """The signature check every receiver needs (constant-time compare, replay window of TOLERANCE_S)."""
    if not timestamp or not signatures or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_S:
        return False
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s.strip()) for s in signatures.split(","))


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request it gets (``requests``) and every event it accepted
    once (``events``, by envelope id)."""

    def __init__(self, secret: str | None = None, *, port: int = 0, fail_first: int = 0,
                 retry_after: int | None = None):
        self.secret = secret
        self.fail_first = fail_first
        self.retry_after = retry_after
        self.requests: list[dict] = []
        self.events: dict[str, dict] = {}
        self.hold: threading.Event | None = None  # set: requests wait for it (to keep an attempt in flight)
        self.delay_s = 0.0  # each answer takes this long (a slow receiver)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._handle(self, body)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def _handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = request.headers
        verified = self.secret is not None and verify(self.secret, headers.get("X-VoiceForge-Timestamp"),
                                                      headers.get("X-VoiceForge-Signature"), body)
        event_id = headers.get("X-VoiceForge-Event-Id")
        seen = {"path": request.path, "eventId": event_id, "attempt": int(headers.get("X-VoiceForge-Attempt") or 0),
                "verified": verified, "body": body, "at": time.time()}
        with self._lock:
            self.requests.append(seen)
            tries = sum(1 for r in self.requests if r["eventId"] == event_id)
        hold = self.hold
        if hold is not None:
            hold.wait(60)
        if self.delay_s:
            time.sleep(self.delay_s)
        extra: dict[str, str] = {}
        if not verified:
            status = 401
        elif tries <= self.fail_first and self.retry_after is not None:
            status, extra = 503, {"Retry-After": str(self.retry_after)}
        elif tries <= self.fail_first:
            status = 500
        else:
            status = 200
            with self._lock:
                self.events.setdefault(event_id, json.loads(body))  # a retry of a stored event changes nothing
        seen["status"] = status
        request.send_response(status)
        for name, value in extra.items():
            request.send_header(name, value)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def start(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secret", required=True)
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--retry-after", type=int, default=None)
    args = parser.parse_args()
    receiver = Receiver(args.secret, port=args.port, fail_first=args.fail_first, retry_after=args.retry_after).start()
    print(f"listening on {receiver.url}", flush=True)
    printed: set[str] = set()
    try:
        while True:
            time.sleep(1)
            for event_id, event in list(receiver.events.items()):
                if event_id not in printed:
                    printed.add(event_id)
                    print(json.dumps({"eventId": event_id, "name": event.get("name")}), flush=True)
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
