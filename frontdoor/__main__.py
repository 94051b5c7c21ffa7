"""`python -m frontdoor`: serve the API with gunicorn on 127.0.0.1:$FRONTDOOR_PORT."""
from __future__ import annotations

import json
import os

from gunicorn import util
from gunicorn.app.base import BaseApplication

from frontdoor import request_ids
from service_config import load


def _write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """Gunicorn answers requests it cannot parse (request line too long, bad headers) itself, in HTML. Our
    contract is {"code", "error"} for every error, so its writer is replaced by one that speaks JSON."""
    code = "INVALID_PARAMETERS" if status_int < 500 else "INTERNAL_ERROR"
    request_id = request_ids.new_id()  # the request could not be read: its own id is unknown
    body = json.dumps({"code": code, "error": f"{reason}: {mesg}" if mesg else reason,
                       "requestId": request_id}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"{request_ids.HEADER}: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin1")
    util.write_nonblock(sock, head + body)


util.write_error = _write_json_error


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        from frontdoor import create_app

        return create_app()


def main() -> None:
    settings = load()
    _Server(
        {
            "bind": f"{os.environ.get('FRONTDOOR_HOST', '127.0.0.1')}:{settings.frontdoor_port}",
            "workers": int(os.environ.get("FRONTDOOR_WORKERS", "2")),
            "worker_class": "gthread",
            "threads": int(os.environ.get("FRONTDOOR_THREADS", "48")),  # 32 may wait (MAX_WAITING_READS)
            "timeout": 60,
            "limit_request_line": 8190,  # the largest gunicorn allows short of "unlimited"
            "accesslog": "-",
            # The access log names each request by the id its answer carries (frontdoor/request_ids.py).
            "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms [%({x-request-id}o)s]',
        }
    ).run()


if __name__ == "__main__":
    main()
