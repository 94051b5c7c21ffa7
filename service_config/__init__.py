"""Process configuration from environment variables.

One place names every variable, so the local stack manager, the front door and the workers agree on ports and
URLs. Defaults match the local stack started by ``python -m stack up``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    # Local stack layout and ports (used by `python -m stack`).
    stack_dir: Path = field(default_factory=lambda: Path(_env("VOICE_STACK_DIR", str(REPO_ROOT / ".stack"))))
    kafka_port: int = field(default_factory=lambda: _env_int("KAFKA_PORT", 9092))
    kafka_controller_port: int = field(default_factory=lambda: _env_int("KAFKA_CONTROLLER_PORT", 9093))
    mongo_port: int = field(default_factory=lambda: _env_int("MONGO_PORT", 27017))
    redis_port: int = field(default_factory=lambda: _env_int("REDIS_PORT", 6379))
    s3_port: int = field(default_factory=lambda: _env_int("S3_PORT", 8080))
    triton_http_port: int = field(default_factory=lambda: _env_int("TRITON_HTTP_PORT", 8000))
    triton_grpc_port: int = field(default_factory=lambda: _env_int("TRITON_GRPC_PORT", 8001))
    triton_metrics_port: int = field(default_factory=lambda: _env_int("TRITON_METRICS_PORT", 8002))
    frontdoor_port: int = field(default_factory=lambda: _env_int("FRONTDOOR_PORT", 5000))
    worker_web_port: int = field(default_factory=lambda: _env_int("WORKER_WEB_PORT", 6066))

    # Client-side addresses; each defaults to the local stack's port above.
    kafka_bootstrap: str = ""
    mongo_uri: str = ""
    mongo_db: str = field(default_factory=lambda: _env("MONGO_DB", "voiceforge"))
    redis_url: str = ""
    s3_endpoint_url: str = ""
    s3_access_key_id: str = field(default_factory=lambda: _env("S3_ACCESS_KEY_ID", "test:tester"))
    s3_secret_access_key: str = field(default_factory=lambda: _env("S3_SECRET_ACCESS_KEY", "testing"))
    s3_region: str = field(default_factory=lambda: _env("S3_REGION", "us-east-1"))
    s3_bucket: str = field(default_factory=lambda: _env("S3_BUCKET", "voiceforge"))
    s3_presign_ttl_s: int = field(default_factory=lambda: _env_int("S3_PRESIGN_TTL_S", 3600))
    triton_grpc_url: str = ""

    # Behaviour.
    kafka_topic_prefix: str = field(default_factory=lambda: _env("KAFKA_TOPIC_PREFIX", "voiceforge"))
    kafka_partitions: int = field(default_factory=lambda: _env_int("KAFKA_PARTITIONS", 4))
    kafka_publish_timeout_s: float = field(default_factory=lambda: _env_float("KAFKA_PUBLISH_TIMEOUT_S", 5.0))
    ledger_reply_timeout_s: float = field(default_factory=lambda: _env_float("LEDGER_REPLY_TIMEOUT_S", 5.0))
    # How long POST /v1/voice-cloning/tts with async_mode=false waits for the audio before timeout_waiting.
    v1_sync_timeout_s: float = field(default_factory=lambda: _env_float("V1_SYNC_TIMEOUT_S", 60.0))
    # Jobs that enrol a reference (clones, /v1 audio_ref) a worker runs at once, apart from speech jobs: 2 keeps
    # Triton's one enroll instance busy; raise it with more enroll instances (a GPU deployment).
    enrol_concurrency: int = field(default_factory=lambda: max(1, _env_int("ENROL_CONCURRENCY", 2)))
    # Jobs-topic events the enrolment lane may hold unread (every event reaches it; it skips the speech lane's).
    # Faust stops fetching a partition once any agent's buffer on it is 80 % full, so with the default buffer
    # (4096) a backlog of enrolments, a minute each, stopped the speech lane after ≈ 3,300 events; ≈ 2-10 KB each.
    enrol_lane_buffer: int = field(default_factory=lambda: max(4096, _env_int("ENROL_LANE_BUFFER", 50000)))
    # How long the voice enrolled from a /v1 audio_ref is kept for the same account sending the same recording
    # again (reused instead of enrolling anew: ≈ 60 s saved, and the same voice every time); 0 keeps none.
    v1_reference_reuse_s: float = field(default_factory=lambda: _env_float("V1_REFERENCE_REUSE_S", 86400.0))
    reservation_ttl_s: int = field(default_factory=lambda: _env_int("RESERVATION_TTL_S", 900))
    # How often each worker looks for expired reservations and due monthly resets of the accounts it owns.
    ledger_timer_interval_s: float = field(default_factory=lambda: _env_float("LEDGER_TIMER_INTERVAL_S", 5.0))
    # A job not ended this long after it was requested is failed by the sweeper (streams/sweeper.py) and its price
    # released: later than a reservation's expiry (RESERVATION_TTL_S), which ends every job that holds credits.
    job_deadline_s: float = field(default_factory=lambda: _env_float(
        "JOB_DEADLINE_S", _env_int("RESERVATION_TTL_S", 900) + 300.0))
    job_sweep_interval_s: float = field(default_factory=lambda: _env_float("JOB_SWEEP_INTERVAL_S", 30.0))
    inference_timeout_s: float = field(default_factory=lambda: _env_float("INFERENCE_TIMEOUT_S", 60.0))
    # Retries on UNAVAILABLE / DEADLINE_EXCEEDED; with the capped backoff (2 s), 30 retries ride out 40-55 s of
    # outage: a Triton restart takes 15-50 s here (the soak run's 8 retries, ~10 s, failed the jobs of a restart).
    inference_max_retries: int = field(default_factory=lambda: _env_int("INFERENCE_MAX_RETRIES", 30))
    rate_limit_per_minute: int = field(default_factory=lambda: _env_int("RATE_LIMIT_PER_MINUTE", 120))
    # Failed authentications (unknown, revoked or malformed keys) per client address and in all, per minute; past
    # either budget a key is refused (429) before it is looked up (frontdoor/abuse.py, docs/api-decisions.md).
    auth_failures_per_minute: int = field(default_factory=lambda: _env_int("AUTH_FAILURES_PER_MINUTE", 10))
    auth_failures_global_per_minute: int = field(
        default_factory=lambda: _env_int("AUTH_FAILURES_GLOBAL_PER_MINUTE", 300))
    # Uploads (voice clone, custom voice, /v1 audio_ref) one account may have in progress at once.
    max_concurrent_uploads: int = field(default_factory=lambda: _env_int("MAX_CONCURRENT_UPLOADS", 3))
    # Reads of one's own jobs (GET /api/v1/tts/{id}, /v1/jobs/{id}[/result]) count in their own window, so polling
    # never starves the requests that do work: 16 jobs polled every 0.5 s is 1920 a minute.
    job_read_rate_limit_per_minute: int = field(
        default_factory=lambda: _env_int("JOB_READ_RATE_LIMIT_PER_MINUTE", 2400))
    # How long an Idempotency-Key's answer is replayed (at least 24 h).
    idempotency_ttl_s: int = field(default_factory=lambda: _env_int("IDEMPOTENCY_TTL_S", 86400))
    # Waiting reads (?wait=) each hold a gthread thread while they wait; at most this many per process at once
    # (further ones answer at once), so the threads that serve other requests are never all waiting.
    max_waiting_reads: int = field(default_factory=lambda: _env_int("MAX_WAITING_READS", 32))
    # Webhooks (docs/webhooks.md). Targets on loopback, private, link-local or metadata addresses are refused unless
    # the operator allows them (1: a deployment whose receivers live on its own network; the tests' local receiver).
    webhook_allow_private_targets: bool = field(
        default_factory=lambda: _env("WEBHOOK_ALLOW_PRIVATE_TARGETS", "0").lower() in ("1", "true", "yes"))
    webhook_retry_base_s: float = field(default_factory=lambda: _env_float("WEBHOOK_RETRY_BASE_S", 10.0))
    webhook_retry_cap_s: float = field(default_factory=lambda: _env_float("WEBHOOK_RETRY_CAP_S", 900.0))
    webhook_max_attempts: int = field(default_factory=lambda: _env_int("WEBHOOK_MAX_ATTEMPTS", 8))
    webhook_timeout_s: float = field(default_factory=lambda: _env_float("WEBHOOK_TIMEOUT_S", 10.0))
    # Attempts to one webhook endpoint in flight at once, over all workers, so a receiver that hangs holds at most
    # this many of the delivery actors (64 per worker; an account has at most 10 endpoints) and its account's other
    # endpoints and other accounts do not wait for it.
    webhook_endpoint_concurrency: int = field(default_factory=lambda: _env_int("WEBHOOK_ENDPOINT_CONCURRENCY", 3))
    # A webhook is disabled once this many deliveries in a row have failed after their last attempt, the first at
    # least WEBHOOK_DISABLE_AFTER_S ago (service_layer.webhook_logic.DisablePolicy; 0 failures: never).
    webhook_disable_after_failures: int = field(
        default_factory=lambda: _env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 20))
    webhook_disable_after_s: float = field(default_factory=lambda: _env_float("WEBHOOK_DISABLE_AFTER_S", 86400.0))
    demo_credits: int = field(default_factory=lambda: _env_int("DEMO_CREDITS", 100000))
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO"))

    def __post_init__(self) -> None:
        # Frozen dataclass: fill derived defaults through object.__setattr__.
        derived = {
            "kafka_bootstrap": _env("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{self.kafka_port}"),
            "mongo_uri": _env("MONGO_URI", f"mongodb://127.0.0.1:{self.mongo_port}/?replicaSet=rs0"),
            "redis_url": _env("REDIS_URL", f"redis://127.0.0.1:{self.redis_port}/0"),
            "s3_endpoint_url": _env("S3_ENDPOINT_URL", f"http://127.0.0.1:{self.s3_port}"),
            "triton_grpc_url": _env("TRITON_GRPC_URL", f"127.0.0.1:{self.triton_grpc_port}"),
        }
        for name, value in derived.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}.{name}"


def load() -> Settings:
    return Settings()
