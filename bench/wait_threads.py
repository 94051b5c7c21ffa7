"""What a waiting read (GET /api/v1/tts/{id}?wait=N) costs the front door, and why waits are capped per process.

Under gunicorn's gthread worker a waiting request holds one worker thread (idle: it sleeps on an Event that the
process's one MongoDB change-stream watcher sets). The benchmark starts its own front door (1 worker) for each
scenario, parks C clients on jobs that do not end (views seeded in MongoDB) with wait=W, and meanwhile measures:
  - the latency of ordinary requests (GET /api/v1/credits, one after another) — do waits starve other requests?
  - the worker's CPU seconds, RSS and thread count, and MongoDB's query count over the window,
next to C clients polling the same jobs every 0.5 s (the seed's pattern) for the same window.

Needs the stack (`python -m stack up`); no workers needed.

    python -m bench.wait_threads [--clients 32] [--wait 8]
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from pymongo import MongoClient

from bench.stats import summary
from frontdoor import admin
from schemas import events as ev
from service_config import REPO_ROOT, load


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker_pid(master: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
        if out.split():
            return int(out.split()[0])
        time.sleep(0.2)
    raise SystemExit("no gunicorn worker")


def _proc(pid: int) -> tuple[float, int, int]:
    """(cpu seconds, RSS KiB, threads) of a process."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    return cpu, int(status["VmRSS"].split()[0]), int(status["Threads"])


class FrontDoor:
    def __init__(self, **env: str):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "frontdoor"], cwd=REPO_ROOT, start_new_session=True,
            env={**os.environ, "FRONTDOOR_PORT": str(self.port), "FRONTDOOR_WORKERS": "1",
                 "RATE_LIMIT_PER_MINUTE": "100000000", "JOB_READ_RATE_LIMIT_PER_MINUTE": "100000000", **env},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("the benchmark's front door did not start")
            time.sleep(0.2)
        self.worker = _worker_pid(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


def _seed_jobs(db, account_id: str, count: int) -> list[str]:
    now = ev.utc_now()
    ids = ["clbench" + uuid.uuid4().hex[:17] for _ in range(count)]
    db.speeches.insert_many([{"_id": i, "accountId": account_id, "kind": "tts", "state": "PROCESSING",
                              "status": "PROCESSING", "text": "bench", "format": "wav", "creditsUsed": 5,
                              "voice": None, "voiceId": "sys_slt", "createdAt": now, "updatedAt": now} for i in ids])
    return ids


def _queries(db) -> int:
    """Reads of the speech views (this database's only): other processes on the machine do not count."""
    return int(db.client.admin.command("top")["totals"][f"{db.name}.speeches"]["queries"]["count"])


def scenario(name: str, db, headers: dict, jobs: list[str], wait_s: float, mode: str, **env: str) -> None:
    door = FrontDoor(**env)
    try:
        session = requests.Session()
        session.get(f"{door.base}/api/v1/credits", headers=headers, timeout=10)  # warm: auth, pools
        stop = threading.Event()
        probes: list[float] = []

        def probe() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                session.get(f"{door.base}/api/v1/credits", headers=headers, timeout=60)
                probes.append(time.perf_counter() - started)
                time.sleep(0.1)

        def client(job: str) -> int:
            s = requests.Session()
            calls, deadline = 0, time.monotonic() + wait_s
            if mode == "wait":
                s.get(f"{door.base}/api/v1/tts/{job}", params={"wait": str(wait_s)}, headers=headers, timeout=60)
                return 1
            while time.monotonic() < deadline:  # the seed's polling loop, every 0.5 s
                s.get(f"{door.base}/api/v1/tts/{job}", headers=headers, timeout=60)
                calls += 1
                time.sleep(0.5)
            return calls

        cpu0, rss0, threads0 = _proc(door.worker)
        queries0 = _queries(db)
        prober = threading.Thread(target=probe)
        started = time.monotonic()
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = [pool.submit(client, job) for job in jobs]
            prober.start()
            time.sleep(wait_s / 2)
            _, rss_mid, threads_mid = _proc(door.worker)
            calls = sum(f.result() for f in futures)
        stop.set()
        prober.join()
        elapsed = time.monotonic() - started
        cpu1, _, _ = _proc(door.worker)
        queries = _queries(db) - queries0
        print(f"{name:<44} {len(jobs):>3} clients  {calls:>4} calls  window {elapsed:5.1f}s  "
              f"worker CPU {cpu1 - cpu0:5.2f}s  RSS {rss0 / 1024:5.0f}->{rss_mid / 1024:5.0f} MiB  "
              f"threads {threads0}->{threads_mid}  speech reads {queries:>5}  "
              f"\n    other requests meanwhile: {summary(probes)}")
    finally:
        door.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--wait", type=float, default=8.0)
    args = parser.parse_args()
    settings = load()
    db = MongoClient(settings.mongo_uri, tz_aware=True)[settings.mongo_db]
    issued = admin.create_account_with_key("bench-wait", credits=0)
    headers = {"Authorization": f"Bearer {issued.api_key}"}
    jobs = _seed_jobs(db, issued.account_id, args.clients)
    print(f"front door: 1 gunicorn gthread worker; machine: {os.cpu_count()} cores; wait={args.wait:g}s")
    try:
        scenario("poll every 0.5 s (16 threads)", db, headers, jobs, args.wait, "poll")
        scenario("wait, cap 8 waiting (16 threads, default)", db, headers, jobs, args.wait, "wait")
        scenario("wait, no cap (16 threads)", db, headers, jobs, args.wait, "wait",
                 MAX_WAITING_READS=str(args.clients))
        scenario(f"wait, cap {args.clients} ({args.clients + 16} threads)", db, headers, jobs, args.wait, "wait",
                 MAX_WAITING_READS=str(args.clients), FRONTDOOR_THREADS=str(args.clients + 16))
    finally:
        db.speeches.delete_many({"_id": {"$in": jobs}})


if __name__ == "__main__":
    main()
