"""How soon a finished job's webhook arrives, against a running service started with
WEBHOOK_ALLOW_PRIVATE_TARGETS=1 (the receiver listens on 127.0.0.1).

    python -m bench.webhook_latency [--requests 20] [--url http://127.0.0.1:5000] [--key KEY]

Registers a webhook to a local receiver (examples/webhook_receiver.py, which verifies every signature), then runs
speech jobs one after another. Per job: POST /api/v1/tts → the signed speech.completed POST arrives, and the job's
end (the event's timings.finishedAt) → arrival, i.e. what the notifier, the completions topic, the webhook agent
and the signed HTTP POST add. Prints median, p99, max; deletes the webhook at the end.
"""
from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from bench.demo_client import add_demo_options, demo_session
from bench.stats import summary
from schemas import events as ev
from service_config import load

RECEIVER = Path(__file__).resolve().parents[1] / "examples" / "webhook_receiver.py"


def _receiver_class():
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", RECEIVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Receiver


def main() -> None:
    settings = load()
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--text", default="Hello, this is a test speech.")
    add_demo_options(parser, settings)
    args = parser.parse_args()
    session = demo_session(args, settings)

    receiver = _receiver_class()().start()
    made = session.post(f"{args.url}/api/v1/webhooks", json={"url": receiver.url, "events": ["speech.completed"]},
                        timeout=10)
    if made.status_code != 201:
        raise SystemExit(f"could not register the webhook ({made.status_code} {made.text}); is the service running "
                         "with WEBHOOK_ALLOW_PRIVATE_TARGETS=1?")
    receiver.secret = made.json()["secret"]
    webhook_id = made.json()["webhook"]["id"]
    post_to_webhook, end_to_webhook = [], []
    try:
        for i in range(args.requests):
            started = time.time()
            resp = session.post(f"{args.url}/api/v1/tts", json={"text": args.text, "voiceId": "sys_slt",
                                                                 "format": "mp3"}, timeout=30)
            resp.raise_for_status()
            speech_id = resp.json()["speechId"]
            deadline = time.monotonic() + 120
            arrived = None
            while arrived is None and time.monotonic() < deadline:
                arrived = next((r for r in list(receiver.requests) if r.get("status") == 200
                                and speech_id.encode() in r["body"]), None)
                time.sleep(0.002)
            if arrived is None:
                raise SystemExit(f"request {i}: no webhook for {speech_id} within 120 s")
            event = receiver.events[arrived["eventId"]]
            finished = ev.parse_iso(event["payload"]["timings"]["finishedAt"]).timestamp()
            post_to_webhook.append(arrived["at"] - started)
            end_to_webhook.append(arrived["at"] - finished)
            print(f"[{i + 1}/{args.requests}] POST→webhook {1000 * post_to_webhook[-1]:.0f} ms, "
                  f"job end→webhook {1000 * end_to_webhook[-1]:.0f} ms", flush=True)
    finally:
        session.delete(f"{args.url}/api/v1/webhooks/{webhook_id}", timeout=10)
        receiver.stop()
    print(f"POST /api/v1/tts → signed webhook received: {summary(post_to_webhook)}")
    print(f"job end (timings.finishedAt) → webhook:    {summary(end_to_webhook)}")


if __name__ == "__main__":
    main()
