"""The options and HTTP session the latency benchmarks share: the front door's URL and the demo account's key
(`make run` saves it in the stack dir; DEMO_API_KEY or --key overrides)."""
from __future__ import annotations

import argparse
import os

import requests

from service_config import Settings


def add_demo_options(parser: argparse.ArgumentParser, settings: Settings) -> None:
    parser.add_argument("--url", default=f"http://127.0.0.1:{settings.frontdoor_port}")
    parser.add_argument("--key", default=os.environ.get("DEMO_API_KEY"))


def demo_session(args: argparse.Namespace, settings: Settings) -> requests.Session:
    """A session that sends the demo key (--key, else the one saved by `make run`)."""
    key = args.key or (settings.stack_dir / "demo-api-key").read_text().strip()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session
