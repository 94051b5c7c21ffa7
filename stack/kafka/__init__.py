"""Apache Kafka 3.9.1 broker, single node in KRaft mode, from the Maven Central jars (pom.xml next to this file).

Kafka 3.9 keeps the old protocol versions aiokafka/faust speak; 4.x dropped some, so test before moving.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from ..base import Context, Service, tcp_open
from ..install import file_digest, run_logged
from ..process import Proc, StackError, say

KAFKA_VERSION = "3.9.1"
POM = Path(__file__).resolve().parent / "pom.xml"
HEAP = ["-Xmx512m", "-Xms256m"]
HEALTH_TOPIC = "stack.healthcheck"


def _paths(ctx: Context) -> dict[str, Path]:
    root = ctx.stack_dir / "kafka"
    return {
        "root": root,
        "libs": root / "libs",
        "data": root / "data",
        "config": root / "server.properties",
        "log4j": root / "log4j.properties",
        "cluster_id": root / "cluster.id",
    }


def _java() -> str:
    java = shutil.which("java")
    if not java:
        raise StackError("kafka", "java not found on PATH (Java 17 needed: apt-get install openjdk-17-jre-headless)")
    return java


def _classpath(ctx: Context) -> str:
    return str(_paths(ctx)["libs"]) + "/*"


def install(ctx: Context) -> bool:
    p = _paths(ctx)
    p["root"].mkdir(parents=True, exist_ok=True)
    log = ctx.log("install-kafka")
    fetched = ctx.markers.ensure(f"kafka-libs-{KAFKA_VERSION}", file_digest(POM), lambda: _fetch_jars(ctx, log))
    _write_config(ctx)
    formatted = False
    if not (p["data"] / "meta.properties").exists():
        _format_storage(ctx, log)
        formatted = True
    return fetched or formatted


def _fetch_jars(ctx: Context, log: Path) -> None:
    p = _paths(ctx)
    if not shutil.which("mvn"):
        raise StackError("kafka", "mvn not found on PATH "
                                  "(Maven needed to fetch the broker jars: apt-get install maven)")
    # Run Maven on a copy of the pom so nothing (target/) is written into the source tree; fetch into a fresh
    # folder and swap it in, so a version change never leaves two Kafka versions on the class path.
    build = p["root"] / "maven"
    build.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(POM, build / "pom.xml")
    fresh = p["root"] / "libs.new"
    shutil.rmtree(fresh, ignore_errors=True)
    run_logged("kafka", f"downloading Kafka {KAFKA_VERSION} jars via maven (first time: ~1 min)",
               ["mvn", "-B", "-q", "-f", build / "pom.xml", "dependency:copy-dependencies",
                "-DincludeScope=runtime", f"-DoutputDirectory={fresh}"], log, cwd=build)
    if not any(fresh.glob("kafka_2.13-*.jar")):
        raise StackError("kafka", f"maven finished but no kafka_2.13 jar in {fresh}", log)
    shutil.rmtree(p["libs"], ignore_errors=True)
    fresh.rename(p["libs"])


def _format_storage(ctx: Context, log: Path) -> None:
    p = _paths(ctx)
    if not p["cluster_id"].exists():
        say("kafka", "generating a cluster id (StorageTool random-uuid)")
        out = subprocess.run([_java(), "-cp", _classpath(ctx), "kafka.tools.StorageTool", "random-uuid"],
                             capture_output=True, text=True, timeout=120)
        cluster_id = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else ""
        if not cluster_id:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(out.stdout + out.stderr)
            raise StackError("kafka", "StorageTool random-uuid failed", log)
        p["cluster_id"].write_text(cluster_id + "\n")
    cluster_id = p["cluster_id"].read_text().strip()
    run_logged("kafka", f"formatting KRaft storage in {p['data']} (cluster {cluster_id})",
               [_java(), f"-Dlog4j.configuration=file:{p['log4j']}", "-cp", _classpath(ctx),
                "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", p["config"], "--ignore-formatted"], log)


def _write_config(ctx: Context) -> None:
    s = ctx.settings
    p = _paths(ctx)
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{s.kafka_controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(p["data"]),
        "num.partitions": "4",
        "auto.create.topics.enable": "true",
        # One broker: internal topics cannot have more replicas; fewer partitions load faster at startup.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "group.initial.rebalance.delay.ms": "0",
    }
    _write_if_changed(p["config"], "".join(f"{k}={v}\n" for k, v in props.items()))
    # Broker log to stdout, which the stack sends to logs/kafka.log; the chattiest loggers at WARN.
    _write_if_changed(p["log4j"], """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
""")


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def procs(ctx: Context) -> list[Proc]:
    p = _paths(ctx)
    argv = [shutil.which("java") or "java", *HEAP, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{p['log4j']}",
            "-cp", _classpath(ctx), "kafka.Kafka", str(p["config"])]
    ports = f"{ctx.settings.kafka_port},{ctx.settings.kafka_controller_port}"  # they live in server.properties
    return [Proc("kafka", argv, ctx.log("kafka"), match=["kafka.Kafka", str(p["config"])], fingerprint=ports)]


def _admin_conf(ctx: Context) -> dict:
    return {
        "bootstrap.servers": f"127.0.0.1:{ctx.settings.kafka_port}",
        "log_level": 0,  # librdkafka would print connection errors to our stderr while the broker starts
        "socket.timeout.ms": 2000,
    }


def healthy(ctx: Context) -> bool:
    if not tcp_open(ctx.settings.kafka_port):
        return False
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient(_admin_conf(ctx)).list_topics(timeout=3)
    return len(metadata.brokers) == 1


def ready(ctx: Context, service: Service, timeout: float) -> None:
    """Broker metadata answers; then one produce proves the controller and partition leadership work."""
    started = time.monotonic()
    service.wait_healthy(ctx, timeout)
    from confluent_kafka import Producer

    conf = {**_admin_conf(ctx), "message.timeout.ms": max(5000, int((timeout - (time.monotonic() - started)) * 1000))}
    del conf["socket.timeout.ms"]
    producer = Producer(conf)
    failures: list[str] = []
    producer.produce(HEALTH_TOPIC, b"ping", on_delivery=lambda err, msg: err and failures.append(str(err)))
    left = producer.flush(timeout=max(5.0, timeout - (time.monotonic() - started)))
    if left or failures:
        raise StackError("kafka", f"test produce to {HEALTH_TOPIC} failed: {failures or 'not delivered in time'}",
                         ctx.log("kafka"))


SERVICE = Service(
    name="kafka",
    procs=procs,
    healthy=healthy,
    ports=lambda s: (s.kafka_port, s.kafka_controller_port),
    install=install,
    ready=ready,
    start_timeout=120,
    first_start_timeout=300,
)
