"""End-to-end latency of the TTS slice against a running service (`make run`).

    python -m bench.e2e_latency [--requests 20] [--text "..."] [--format mp3] [--voice sys_slt]

Per request: accept latency (POST /api/v1/tts → answer, which includes the ledger's decision) and completion
latency (POST → GET shows COMPLETED, polled every 20 ms). Requests run one after another. Prints median, p99, max.
"""
from __future__ import annotations

import argparse
import time

from bench.demo_client import add_demo_options, demo_session
from bench.stats import summary
from service_config import load


def main() -> None:
    settings = load()
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--text", default="Hello, this is a test speech. The quick brown fox jumps over the lazy dog.")
    parser.add_argument("--format", default="mp3")
    parser.add_argument("--voice", default="sys_slt")
    add_demo_options(parser, settings)
    args = parser.parse_args()
    session = demo_session(args, settings)

    accept, complete = [], []
    for i in range(args.requests):
        started = time.perf_counter()
        resp = session.post(f"{args.url}/api/v1/tts",
                            json={"text": args.text, "voiceId": args.voice, "format": args.format}, timeout=30)
        accepted = time.perf_counter()
        resp.raise_for_status()
        speech_id = resp.json()["speechId"]
        deadline = started + 120
        while True:
            status = session.get(f"{args.url}/api/v1/tts/{speech_id}", timeout=10).json()["speech"]["status"]
            if status in ("COMPLETED", "FAILED") or time.perf_counter() > deadline:
                break
            time.sleep(0.02)
        if status != "COMPLETED":
            raise SystemExit(f"request {i}: speech {speech_id} ended {status}")
        accept.append(accepted - started)
        complete.append(time.perf_counter() - started)
        print(f"[{i + 1}/{args.requests}] accept {1000 * (accepted - started):.0f} ms, "
              f"completed {1000 * (complete[-1]):.0f} ms", flush=True)
    print(f"text: {len(args.text.encode())} bytes, format {args.format}, voice {args.voice}")
    print(f"accept (POST answered, ledger decided): {summary(accept)}")
    print(f"end to end (POST → COMPLETED):         {summary(complete)}")


if __name__ == "__main__":
    main()
