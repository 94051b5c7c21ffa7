"""Reservation decisions per second through the ledger agent on the real broker.

    python -m bench.ledger_throughput [--requests 5000] [--accounts 4] [--sequential 300]

Needs Kafka (`python -m stack up kafka`). Starts its own worker running only the ledger agent, on a fresh topic
prefix, and removes its topics at the end. Three measurements:

1. unloaded: one ReserveCreditsForJob at a time, from publish to its JobAccepted reply (what the front door waits);
2. saturated: the shared workload (bench/ledger_workload.py: --requests jobs, each reserved and captured 50 jobs
   later, 10% of reservations redelivered) published as fast as the producer goes; commands/s = commands decided
   / (last reply - first publish), and each reservation's publish-to-reply latency (queueing included);
3. in-process: the same commands with the pure domain and the agent's records in a dict (no Kafka), the ceiling
   the agent's own bookkeeping allows.
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
from datetime import datetime, timedelta, timezone

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

import ledger
from bench import ledger_workload as workload
from bench.stats import summary
from ledger import records
from schemas import events as ev
from schemas import messages
from service_config import REPO_ROOT, load

REPLY_NAMES = (messages.JobAccepted.WIRE_NAME, messages.JobRejected.WIRE_NAME)

WORKER = ("import sys; from adapters import kafka; from streams.app import app, settings; "
          "import streams.ledger_agent; kafka.ensure_topics(settings); "
          "sys.argv = ['ledger-bench-worker', 'worker', '-l', 'warn']; app.main()")
ALLOWANCE = 10**12


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Replies:
    """Reads JobAccepted/JobRejected from the jobs topic's end; records when each job's first answer arrived."""

    def __init__(self, settings):
        self.topic = settings.topic(ev.TOPIC_JOBS)
        self.consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                                  "group.id": f"bench-{uuid.uuid4().hex}",
                                  "enable.auto.commit": False, "fetch.wait.max.ms": 5})
        meta = self.consumer.list_topics(self.topic, timeout=10)
        ends = []
        for partition in meta.topics[self.topic].partitions:
            for attempt in range(50):  # a topic just created may not have a leader yet
                try:
                    _low, high = self.consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=10)
                    break
                except KafkaException:
                    if attempt == 49:
                        raise
                    time.sleep(0.2)
            ends.append(TopicPartition(self.topic, partition, high))
        self.consumer.assign(ends)
        self.arrived: dict[str, float] = {}
        self.rejected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self.consumer.poll(0.01)  # consume(n, timeout) would wait for n messages or the timeout
            if msg is not None and not msg.error():
                reply = ev.decode(msg.value())
                job_id = reply.payload.get("jobId")
                if reply.name in REPLY_NAMES and job_id not in self.arrived:
                    self.arrived[job_id] = time.perf_counter()
                    self.rejected += reply.name == messages.JobRejected.WIRE_NAME

    def wait(self, job_ids, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(job_ids)
        while pending:
            pending = [j for j in pending if j not in self.arrived]
            if pending and time.monotonic() > deadline:
                raise SystemExit(f"{len(pending)} replies missing after {timeout_s:.0f}s")
            time.sleep(0.001)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.consumer.close()


def _job(account_id: str, job_id: str) -> messages.OtherJob:
    """A job no stage runs: the benchmark measures the ledger alone."""
    return messages.OtherJob(kind="bench", job_id=job_id, account_id=account_id, credits_used=1)


def _reserve(account_id: str, job_id: str) -> bytes:
    return messages.ReserveCreditsForJob.for_job(_job(account_id, job_id)).envelope().encode()


def _capture(account_id: str, job_id: str) -> bytes:
    return messages.CaptureJobCredits.for_job(_job(account_id, job_id)).envelope().encode()


def in_process(plan, accounts: int) -> None:
    table: dict[bytes, bytes] = {}
    at = datetime.now(timezone.utc)
    for a in range(accounts):
        command = ledger.OpenAccount(command_id=f"open:{a}", account_id=f"acct{a}", at=at, monthly_allowance=ALLOWANCE,
                                     reset_at=at + timedelta(days=30))
        events, after = ledger.apply_command(None, command)
        table.update(records.records_after(after, events))
    timings = []
    started = time.perf_counter()
    for kind, account, job_id in plan:
        command = workload.command_for(kind, account, job_id, at)
        account_id = command.account_id
        t0 = time.perf_counter()
        state = records.decision_state(account_id, command.command_id, job_id, table.get)
        events, after = ledger.apply_command(state, command)
        for key, value in records.records_after(after, events) if events else ():
            table[key] = value
        timings.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    print(f"in-process (pure domain + records, no Kafka): {len(plan) / elapsed:,.0f} commands/s; "
          f"per command {summary(timings)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--sequential", type=int, default=300)
    args = parser.parse_args()

    prefix = f"bench-ledger-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "KAFKA_TOPIC_PREFIX": prefix, "WORKER_WEB_PORT": str(_free_port()), "LOG_LEVEL": "WARNING"}
    os.environ.update({"KAFKA_TOPIC_PREFIX": prefix})
    settings = load()
    log_path = REPO_ROOT / ".stack" / "logs" / f"{prefix}-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=REPO_ROOT, env=env, stdout=open(log_path, "wb"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "partitioner": "murmur2_random",
                         "enable.idempotence": True, "acks": "all", "linger.ms": 1})
    replies = None
    try:
        AdminClient({"bootstrap.servers": settings.kafka_bootstrap})  # fail early if Kafka is down
        deadline = time.monotonic() + 60
        while True:  # the worker creates the topics before it joins its group
            if worker.poll() is not None:
                raise SystemExit(f"worker exited; see {log_path}")
            if settings.topic(ev.TOPIC_JOBS) in producer.list_topics(timeout=5).topics or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        replies = Replies(settings)
        at = datetime.now(timezone.utc)
        account_ids = [f"acct_bench_{a}" for a in range(args.accounts)]
        requests_topic = settings.topic(ev.TOPIC_REQUESTS)
        for account_id in account_ids:
            open_command = ledger.OpenAccount(command_id=f"open:{account_id}", account_id=account_id, at=at,
                                              monthly_allowance=ALLOWANCE, reset_at=at + timedelta(days=30))
            body = messages.LedgerCommand.of(open_command).envelope()
            producer.produce(requests_topic, key=account_id.encode(), value=body.encode())
        warmup = [f"warm-{a}" for a in account_ids]
        for account_id, job_id in zip(account_ids, warmup, strict=True):
            producer.produce(requests_topic, key=account_id.encode(), value=_reserve(account_id, job_id))
        producer.flush(10)
        replies.wait(warmup, 120)  # the worker has joined, recovered and decided for every account

        sequential = []
        for n in range(args.sequential):
            account_id, job_id = account_ids[n % len(account_ids)], f"seq-{n}"
            started = time.perf_counter()
            producer.produce(requests_topic, key=account_id.encode(), value=_reserve(account_id, job_id))
            producer.flush(10)
            replies.wait([job_id], 30)
            sequential.append(replies.arrived[job_id] - started)
        print(f"unloaded: publish -> reply, one at a time: {summary(sequential)}")

        plan = workload.steps(args.requests, len(account_ids))
        reserved_at: dict[str, float] = {}
        first = time.perf_counter()
        for kind, account, job_id in plan + [("reserve", a, f"final-{a}") for a in range(len(account_ids))]:
            account_id, job_id = account_ids[account], f"{job_id}@{account}"
            value = _reserve(account_id, job_id) if kind == "reserve" else _capture(account_id, job_id)
            if kind == "reserve":
                reserved_at.setdefault(job_id, time.perf_counter())
            while True:
                try:
                    producer.produce(requests_topic, key=account_id.encode(), value=value)
                    break
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)
        producer.flush(30)
        finals = [f"final-{a}@{a}" for a in range(len(account_ids))]
        replies.wait(list(reserved_at), 600)  # the finals come last on each partition: everything is decided
        last = max(replies.arrived[j] for j in finals)
        latencies = [replies.arrived[j] - sent for j, sent in reserved_at.items()]
        commands = len(plan) + len(finals)
        print(f"saturated: {commands} commands ({args.requests} jobs: reserve + capture, 10% redelivered) over "
              f"{len(account_ids)} accounts in {last - first:.2f}s = {commands / (last - first):,.0f} commands/s, "
              f"{len(reserved_at) / (last - first):,.0f} reservations/s; reservation publish -> reply "
              f"{summary(latencies)}; rejected {replies.rejected}")
    finally:
        if replies is not None:
            replies.close()
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if ours:
            for future in admin.delete_topics(ours).values():
                try:
                    future.result(30)
                except Exception:  # noqa: BLE001 - best-effort cleanup
                    pass
    in_process(workload.steps(args.requests, args.accounts), args.accounts)


if __name__ == "__main__":
    main()
