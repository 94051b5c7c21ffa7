"""`python -m frontdoor`: serve the API with gunicorn on 127.0.0.1:$FRONTDOOR_PORT."""
from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

from service_config import load


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
            "threads": int(os.environ.get("FRONTDOOR_THREADS", "16")),
            "timeout": 60,
            "accesslog": "-",
        }
    ).run()


if __name__ == "__main__":
    main()
