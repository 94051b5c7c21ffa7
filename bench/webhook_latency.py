"""How soon a finished job's webhook arrives, against a running service started with
WEBHOOK_ALLOW_PRIVATE_TARGETS=1 (the receiver listens on 127.0.0.1).

    python -m bench.webhook_latency [--requests 20] [--busy 9 | --hanging 9] [--fail-first 1] [--url URL] [--key K]

Registers a webhook to a local receiver (examples/webhook_receiver.py, which verifies every signature), then runs
speech jobs one after another. Per job: POST /api/v1/tts → the signed speech.completed POST arrives, and the job's
end (the event's timings.finishedAt) → arrival, i.e. what the notifier, the completions topic, the webhook agent
and the signed HTTP POST add. Prints median, p99, max; deletes the webhooks at the end.

``--busy N``: N more webhooks of the same account, to receivers that answer 503 with "Retry-After: 3600", so every
job leaves N deliveries waiting an hour (more than the old delivery agent's 16 actors after two jobs at N = 9): the
measured receiver must not wait for them. ``--hanging N``: N more webhooks of the same account to receivers that
never answer (each attempt holds a delivery actor until WEBHOOK_TIMEOUT_S; each endpoint at most
WEBHOOK_ENDPOINT_CONCURRENCY at once): what they cost their healthy sibling. ``--fail-first 1``: the measured
receiver fails each event's first attempt; the retry's lateness (its arrival after the nextRetryAt the log showed)
is printed too: what scheduling retries from the log (a 1 s poll) costs.
"""
from __future__ import annotations

import argparse
import importlib.util
import threading
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
    parser.add_argument("--busy", type=int, default=0, help="webhooks whose receivers ask for an hour (max 9)")
    parser.add_argument("--hanging", type=int, default=0, help="webhooks whose receivers never answer (max 9)")
    parser.add_argument("--fail-first", type=int, default=0, choices=(0, 1))
    parser.add_argument("--burst", action="store_true", help="POST every job at once, then wait for the webhooks")
    parser.add_argument("--receiver-delay", type=float, default=0.0, help="seconds the measured receiver takes")
    add_demo_options(parser, settings)
    args = parser.parse_args()
    session = demo_session(args, settings)

    def register(**receiver_options):
        receiver = _receiver_class()(**receiver_options).start()
        made = session.post(f"{args.url}/api/v1/webhooks", json={"url": receiver.url, "events": ["speech.completed"]},
                            timeout=10)
        if made.status_code != 201:
            receiver.stop()
            raise SystemExit(f"could not register a webhook ({made.status_code} {made.text}); is the service running "
                             "with WEBHOOK_ALLOW_PRIVATE_TARGETS=1, and has the account room for more webhooks?")
        receiver.secret = made.json()["secret"]
        hooks.append((receiver, made.json()["webhook"]["id"]))
        return receiver, made.json()["webhook"]["id"]

    hooks: list = []
    post_to_webhook, end_to_webhook, retry_late = [], [], []
    try:
        receiver, webhook_id = register(fail_first=args.fail_first)
        receiver.delay_s = args.receiver_delay
        for _ in range(args.busy):
            register(fail_first=10 ** 6, retry_after=3600)
        for _ in range(args.hanging):
            hung, _hook = register()
            hung.hold = threading.Event()  # set at the end: the receiver's threads then answer and end
        if args.burst:
            _burst(session, args, receiver)
            return
        for i in range(args.requests):
            started = time.time()
            resp = session.post(f"{args.url}/api/v1/tts", json={"text": args.text, "voiceId": "sys_slt",
                                                                 "format": "mp3"}, timeout=30)
            resp.raise_for_status()
            speech_id = resp.json()["speechId"]
            deadline = time.monotonic() + 120
            if args.fail_first:
                retry_late.append(_retry_lateness(session, args.url, receiver, webhook_id, speech_id, deadline))
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
            late = f", retry {1000 * retry_late[-1]:.0f} ms after its nextRetryAt" if retry_late else ""
            print(f"[{i + 1}/{args.requests}] POST→webhook {1000 * post_to_webhook[-1]:.0f} ms, "
                  f"job end→webhook {1000 * end_to_webhook[-1]:.0f} ms{late}", flush=True)
    finally:
        for made_receiver, made_id in hooks:
            session.delete(f"{args.url}/api/v1/webhooks/{made_id}", timeout=10)
            if made_receiver.hold is not None:
                made_receiver.hold.set()
            made_receiver.stop()
    waiting = f", {args.busy * args.requests} deliveries waiting an hour beside them" if args.busy else ""
    waiting += f", {args.hanging} receivers that never answer beside them" if args.hanging else ""
    print(f"{args.requests} jobs{waiting}")
    print(f"POST /api/v1/tts → signed webhook received: {summary(post_to_webhook)}")
    print(f"job end (timings.finishedAt) → webhook:    {summary(end_to_webhook)}")
    if retry_late:
        print(f"retry received after its nextRetryAt:      {summary(retry_late)}")


def _burst(session, args, receiver) -> None:
    """Every job POSTed at once; then each event's job end → webhook, and the last POST → the last webhook."""
    speech_ids = []
    for _ in range(args.requests):
        resp = session.post(f"{args.url}/api/v1/tts", json={"text": args.text, "voiceId": "sys_slt", "format": "mp3"},
                            timeout=30)
        resp.raise_for_status()
        speech_ids.append(resp.json()["speechId"])
    posted = time.time()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        arrived = {e["correlationId"]: e for e in list(receiver.events.values())}
        if all(s in arrived for s in speech_ids):
            break
        time.sleep(0.01)
    else:
        raise SystemExit(f"{len(set(speech_ids) - set(arrived))} of {len(speech_ids)} webhooks missing after 300 s")
    at = {r["eventId"]: r["at"] for r in list(receiver.requests) if r.get("status") == 200}
    ends = [at[e["id"]] - ev.parse_iso(e["payload"]["timings"]["finishedAt"]).timestamp()
            for e in arrived.values() if e["correlationId"] in speech_ids]
    print(f"burst of {len(speech_ids)} jobs, receiver answering in {args.receiver_delay:g} s; the last webhook "
          f"{max(at.values()) - posted:.2f} s after the last POST")
    print(f"job end (timings.finishedAt) → webhook:    {summary(ends)}")


def _retry_lateness(session, url: str, receiver, webhook_id: str, speech_id: str, deadline: float) -> float:
    """Seconds between the nextRetryAt the log showed after the failed first attempt and the retry's arrival."""
    next_retry_at = None
    while next_retry_at is None and time.monotonic() < deadline:
        log = session.get(f"{url}/api/v1/webhooks/{webhook_id}/deliveries", timeout=10).json()["deliveries"]
        mine = next((d for d in log if d["jobId"] == speech_id and d["attemptCount"] == 1), None)
        next_retry_at = mine and mine["nextRetryAt"]
        time.sleep(0.02)
    if next_retry_at is None:
        raise SystemExit(f"{speech_id}: the log showed no retry due after the first attempt")
    while time.monotonic() < deadline:
        retry = next((r for r in list(receiver.requests) if r["attempt"] == 2 and speech_id.encode() in r["body"]),
                     None)
        if retry is not None:
            return retry["at"] - ev.parse_iso(next_retry_at).timestamp()
        time.sleep(0.002)
    raise SystemExit(f"{speech_id}: no retry arrived")


if __name__ == "__main__":
    main()
