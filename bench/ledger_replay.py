"""Replay speed of the audit: fold at least 1,000,000 ledger events from their first record and check them.

    python -m bench.ledger_replay [--events 1000000] [--accounts 1000] [--kafka]

Generates a realistic ledger with the ledger's own domain (per account: opening, jobs reserved then captured or
released, monthly resets, grants, some refusals), as the ledger agent would write it: one JSON envelope per event
with the balance after it. The log is cached under .stack/bench/ (generating a million events takes minutes).

Then times the audit (ledger/audit.py, what `python -m frontdoor.admin audit` runs): decode every record, fold,
check every recorded balance and the conservation of credits.
- default: records read from the cached file (decode + fold + checks);
- --kafka: the records are also produced into a dedicated topic, and the audit reads them back from offset 0
  with the CLI's own reader (adapters/kafka.read_topic), as an operator's audit does; the topic is deleted after.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ledger
from ledger import records
from ledger.audit import LedgerAudit
from schemas import events as ev
from service_config import load
from streams.ledger_logic import ledger_records

START = datetime(2025, 1, 1, tzinfo=UTC)


def _envelope(state: ledger.AccountState | None, event: ledger.Event) -> tuple[ledger.AccountState, bytes]:
    """What the ledger agent writes for one event (streams/ledger_logic.ledger_records)."""
    [record] = ledger_records(state, [event])
    return ledger.evolve(state, event), record.envelope().encode()


def generate(path: Path, events_wanted: int, accounts: int, seed: int = 7) -> int:
    """Write a ledger of at least `events_wanted` events (JSON lines, gzip); returns the number of events."""
    rng = random.Random(seed)
    table: dict[bytes, bytes] = {}
    clock = {a: START for a in range(accounts)}
    open_jobs: dict[int, list[str]] = {a: [] for a in range(accounts)}
    written = 0
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wb", compresslevel=1) as out:
        def decide(command: ledger.Command) -> None:
            nonlocal written
            state = records.decision_state(command.account_id, command.command_id, getattr(command, "job_id", None),
                                           table.get)
            events = ledger.decide(state, command)
            for event in events:
                state, line = _envelope(state, event)
                out.write(line + b"\n")
                written += 1
            if events:
                table.update(records.records_after(state, events))

        for a in range(accounts):
            decide(ledger.OpenAccount(command_id=f"open:{a}", account_id=f"acct_{a:05d}", at=START,
                                      monthly_allowance=rng.choice([1000, 5000, 20000]),
                                      reset_at=START + timedelta(days=rng.randint(1, 28))))
        n = 0
        while written < events_wanted:
            a = rng.randrange(accounts)
            account_id = f"acct_{a:05d}"
            clock[a] += timedelta(seconds=rng.randint(60, 4 * 3600))  # months go by: resets happen
            at = clock[a]
            roll = rng.random()
            if roll < 0.02:
                decide(ledger.GrantCredits(command_id=f"grant:{n}", account_id=account_id, at=at,
                                           amount=rng.randint(100, 5000), kind="permanent", reason="purchase"))
            elif open_jobs[a] and (roll < 0.5 or len(open_jobs[a]) > 20):
                job_id = open_jobs[a].pop(0)
                if rng.random() < 0.9:
                    decide(ledger.Capture(command_id=f"capture:{job_id}", account_id=account_id, at=at,
                                          job_id=job_id, amount=rng.randint(1, 40)))
                else:
                    decide(ledger.Release(command_id=f"release:{job_id}", account_id=account_id, at=at,
                                          job_id=job_id, reason="failed"))
            else:
                job_id = f"job{n}"
                decide(ledger.Reserve(command_id=f"reserve:{job_id}", account_id=account_id, at=at, job_id=job_id,
                                      amount=rng.randint(40, 400), expires_at=at + timedelta(hours=6)))
                core = records.core_from_bytes(table[records.core_key(account_id)])
                if job_id in core.reservations:
                    open_jobs[a].append(job_id)
            n += 1
            if n % 100_000 == 0:
                print(f"  generated {written:,} events ({written / (time.perf_counter() - started):,.0f}/s)",
                      flush=True)
    tmp.rename(path)
    return written


def read_lines(path: Path):
    with gzip.open(path, "rb") as lines:
        yield from lines


def audit_records(raw_records) -> tuple[LedgerAudit, int, float]:
    started = time.perf_counter()
    audit = LedgerAudit()
    count = 0
    for raw in raw_records:
        audit.add(ev.decode(raw).payload)
        count += 1
    audit.finish()
    return audit, count, time.perf_counter() - started


def report(what: str, audit: LedgerAudit, count: int, elapsed: float) -> None:
    verdict = "clean" if audit.clean else f"{len(audit.findings)} findings, e.g. {audit.findings[0]}"
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{what}: {count:,} events, {len(audit.accounts):,} accounts in {elapsed:.1f}s = "
          f"{count / elapsed:,.0f} events/s; audit {verdict}; peak RSS {rss_mib:,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--kafka", action="store_true", help="also replay through a Kafka topic")
    args = parser.parse_args()
    settings = load()
    path = settings.stack_dir / "bench" / f"ledger-replay-{args.events}-{args.accounts}.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        print(f"generating {args.events:,} ledger events into {path} ...", flush=True)
        started = time.perf_counter()
        written = generate(path, args.events, args.accounts)
        print(f"generated {written:,} events in {time.perf_counter() - started:.0f}s")

    report("file replay (decode + fold + checks)", *audit_records(read_lines(path)))

    if args.kafka:
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic

        from adapters import kafka

        prefix = f"bench-replay-{uuid.uuid4().hex[:6]}"
        topic = f"{prefix}.{ev.TOPIC_LEDGER}"
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        for future in admin.create_topics([NewTopic(topic, settings.kafka_partitions, 1)]).values():
            future.result(30)
        try:
            producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "partitioner": "murmur2_random",
                                 "linger.ms": 20, "batch.size": 1_000_000, "compression.type": "lz4",
                                 "queue.buffering.max.messages": 1_000_000})
            started = time.perf_counter()
            for raw in read_lines(path):
                line = raw.rstrip(b"\n")
                key = json.loads(line)["payload"]["accountId"].encode()
                while True:
                    try:
                        producer.produce(topic, key=key, value=line)
                        break
                    except BufferError:
                        producer.poll(0.05)
                producer.poll(0)
            producer.flush(120)
            print(f"produced into {topic} in {time.perf_counter() - started:.0f}s")
            replay_settings = type(settings)(kafka_topic_prefix=prefix)
            reader = (value for _p, _o, _k, value in kafka.read_topic(replay_settings, ev.TOPIC_LEDGER))
            report("Kafka replay from offset 0 (read + decode + fold + checks)", *audit_records(reader))
        finally:
            for future in admin.delete_topics([topic]).values():
                future.result(30)


if __name__ == "__main__":
    main()
