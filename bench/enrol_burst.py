"""Speech latency while a burst of enrolments runs, against a running service (`make run`).

    python -m bench.enrol_burst [--enrolments 5] [--speeches 12] [--interval 2] [--voice sys_slt]

Sends ``--enrolments`` /v1 TTS jobs with an audio_ref at once (distinct flite recordings, so none reuses the voice
enrolled from another; each holds Triton's one ``enroll`` instance for up to the enrolment budget), then, one every
``--interval`` seconds from a thread each, ``--speeches`` /api/v1 TTS requests in a system voice, each timed from
its POST until a waiting read of its view (``?wait=``) shows COMPLETED. Prints the speech latencies (median, p99)
and when each enrolment ended. With one lane for every job, speech waited for an enrolment to free a slot
(docs/benchmarks.md, "Enrolments beside speech").
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.demo_client import add_demo_options, demo_session
from bench.stats import summary
from service_config import load

READING = ("The rainbow is a division of white light into many beautiful colors. These take the shape of a long "
           "round arch, with its path high above, and its two ends apparently beyond the horizon.")


def flite_recording(take: int, run: int) -> bytes:
    """A distinct ≈ 10 s reference (flite's awb voice): the same reading with the run's and the take's numbers, so
    that no run reuses the voices an earlier one enrolled (the same account and bytes would)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reference.wav"
        subprocess.run(["flite", "-voice", "awb", "-t", f"{READING} Run {run}, take {take}.", "-o", str(out)],
                       check=True, capture_output=True, timeout=60)
        return out.read_bytes()


def wait_ended(session: requests.Session, url: str, done: tuple[str, ...], field: str, deadline: float) -> str:
    """Waiting reads (``?wait=``: the answer comes when the job ends), so the rate limit is not spent on polls."""
    while time.perf_counter() < deadline:
        resp = session.get(url, params={"wait": 30}, timeout=40)
        if resp.status_code == 429:   # rate limited: wait as told
            time.sleep(float(resp.headers.get("Retry-After", 1)))
            continue
        status = resp.json()
        for key in field.split("."):
            status = status[key]
        if status in done:
            return status
    return "not ended"


def main() -> None:
    settings = load()
    parser = argparse.ArgumentParser()
    parser.add_argument("--enrolments", type=int, default=5)
    parser.add_argument("--speeches", type=int, default=12)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--voice", default="sys_slt")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds any job may take before it counts "
                        "as not ended")
    add_demo_options(parser, settings)
    args = parser.parse_args()
    session = demo_session(args, settings)
    v1 = requests.Session()
    v1.headers["X-API-Key"] = session.headers["Authorization"].split(" ", 1)[1]

    run = int(time.time()) % 100_000
    recordings = [flite_recording(take, run) for take in range(1, args.enrolments + 1)]
    started = time.perf_counter()
    deadline = started + args.timeout
    enrol_jobs = []
    for recording in recordings:
        resp = v1.post(f"{args.url}/v1/voice-cloning/tts", files={"audio_ref": ("ref.wav", recording, "audio/wav")},
                       data={"text": "Hello there.", "async_mode": "true"}, timeout=60)
        resp.raise_for_status()
        enrol_jobs.append(resp.json()["job_id"])
    print(f"{len(enrol_jobs)} enrolment jobs accepted in {time.perf_counter() - started:.1f} s", flush=True)

    enrol_ends: dict[str, float] = {}

    def follow_enrolment(job_id: str) -> None:
        status = wait_ended(v1, f"{args.url}/v1/jobs/{job_id}", ("completed", "failed"), "status", deadline)
        enrol_ends[job_id] = time.perf_counter() - started
        print(f"  enrolment job {job_id} {status} at {enrol_ends[job_id]:.1f} s", flush=True)

    latencies: list[float] = []
    speech_ends: list[float] = []

    def speak(index: int) -> None:
        asked = time.perf_counter()
        resp = session.post(f"{args.url}/api/v1/tts", json={"text": f"Speech number {index + 1}.",
                                                             "voiceId": args.voice}, timeout=60)
        resp.raise_for_status()
        status = wait_ended(session, f"{args.url}/api/v1/tts/{resp.json()['speechId']}", ("COMPLETED", "FAILED"),
                            "speech.status", deadline)
        if status != "COMPLETED":
            print(f"  speech {index + 1}: {status}", flush=True)
            return
        latencies.append(time.perf_counter() - asked)
        speech_ends.append(time.perf_counter() - started)
        print(f"  speech {index + 1}: {1000 * latencies[-1]:.0f} ms (ended at {speech_ends[-1]:.1f} s)", flush=True)

    threads = [threading.Thread(target=follow_enrolment, args=(job_id,)) for job_id in enrol_jobs]
    for thread in threads:
        thread.start()
    speakers = []
    for index in range(args.speeches):
        speakers.append(threading.Thread(target=speak, args=(index,)))
        speakers[-1].start()
        time.sleep(args.interval)
    for thread in speakers + threads:
        thread.join()
    first_enrolment = min(enrol_ends.values())
    print(f"speech ({args.voice}) POST → COMPLETED while {args.enrolments} enrolments ran: {summary(latencies)}")
    print(f"enrolments ended at (s): {', '.join(f'{t:.1f}' for t in sorted(enrol_ends.values()))}")
    print(f"speech jobs ended before the first enrolment: {sum(t < first_enrolment for t in speech_ends)} of "
          f"{args.speeches}")


if __name__ == "__main__":
    main()
