"""Settings from the environment (pydantic-settings). Built once at start-up and passed in."""

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def servers(bootstrap: str) -> list[str]:
    """KAFKA_BOOTSTRAP_SERVERS ("host:port,host:port") as the list Kafka clients take: aiokafka
    reads a string as one address, commas and all."""
    return [s.strip() for s in bootstrap.split(",") if s.strip()]


def clock(offset_s: float) -> datetime:
    """The wall clock moved by `offset_s` (CLOCK_OFFSET_S, wherever a rule reads the time)."""
    return datetime.now(UTC) + timedelta(seconds=offset_s)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # 0: every publish here is awaited at once (results, events, the edge's request), so a
    # linger only delays it; while a batch is in flight to a partition the next one fills
    # anyway. Measured: README, Configuration.
    kafka_linger_ms: int = Field(default=0, ge=0)
    database_url: str = "postgresql://clients@127.0.0.1:54320/clients"
    # The HTTP API's reads (lists, timeline, export) go here when set: a replica. Unset: the
    # primary. (Writes never do; a replica's lag shows as a read a moment behind a write.)
    database_read_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    db_pool_min_size: int = Field(default=1, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)

    # Partition count of the high-volume topics; the others get `topic_partitions_low`.
    topic_partitions: int = Field(default=6, ge=1)
    topic_partitions_low: int = Field(default=3, ge=1)

    # Prepended to every consumer group id (environments sharing one cluster; tests).
    group_prefix: str = ""

    # Batch consumers: at most this many records per handler call (one transaction).
    ingest_batch_size: int = Field(default=500, ge=1)
    upsert_batch_size: int = Field(default=500, ge=1)
    commands_batch_size: int = Field(default=500, ge=1)
    # The outbox relay: events per publish round, and how often it looks without a NOTIFY.
    relay_batch_size: int = Field(default=1000, ge=1)
    relay_idle_poll_s: float = Field(default=1.0, gt=0)
    # Imports: rows per chunk (and at most this many bytes of it), chunks per handler call.
    import_chunk_rows: int = Field(default=1000, ge=1)
    import_chunk_bytes: int = Field(default=512 * 1024, ge=1024)
    imports_batch_size: int = Field(default=4, ge=1)
    # POST /integrations/v1/clients waits this long for the result before answering 202.
    http_result_timeout_s: float = Field(default=5.0, gt=0)
    # The largest request body the edge reads (413 past it); checked after authentication.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Messaging providers (base URLs are settings so tests can point them at local fakes).
    sendblue_api_url: str = "https://api.sendblue.co"
    sendblue_api_key_id: str = ""
    sendblue_api_secret_key: str = ""
    sendblue_signing_secret: str = ""    # compared with account webhooks' sb-signing-secret
    callback_url_secret: str = ""        # signs each send's status_callback URL
    resend_api_url: str = "https://api.resend.com"
    resend_api_key: str = ""
    resend_webhook_secret: str = ""      # whsec_…: verifies Resend's (Svix) callbacks
    # Where providers reach our edge, for SendBlue's status_callback. Unset: this host's edge,
    # http://127.0.0.1:HTTP_PORT.
    public_base_url: str = ""
    provider_timeout_s: float = Field(default=10.0, gt=0)
    # Sends: attempts per message, exponential backoff (with jitter) bounds, SendBlue's
    # per-number pace, how long a claimed send is held, sends claimed per round.
    send_max_attempts: int = Field(default=6, ge=1)
    send_backoff_initial_s: float = Field(default=1.0, gt=0)
    send_backoff_max_s: float = Field(default=60.0, gt=0)
    sms_per_number_per_s: float = Field(default=1.0, gt=0)
    send_lease_s: float = Field(default=300.0, gt=0)
    send_claim_batch: int = Field(default=100, ge=1)
    delivery_batch_size: int = Field(default=500, ge=1)

    # Webhooks (Standard Webhooks): per-attempt timeout; the retry schedule after the first
    # attempt (seconds, each with +/- jitter); how long an endpoint may fail without a success
    # before it is disabled; how long a rotated-out secret still signs.
    webhook_timeout_s: float = Field(default=15.0, gt=0)
    webhook_retry_schedule_s: list[float] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000, 36000])
    webhook_retry_jitter: float = Field(default=0.1, ge=0, lt=1)
    webhook_disable_after_s: float = Field(default=5 * 86400, gt=0)
    webhook_secret_overlap_s: float = Field(default=86400, ge=0)
    # SSRF guard: networks (CIDR) an endpoint may resolve to although they are not public.
    webhook_allowed_networks: list[str] = Field(default=[])
    # Outbound concurrency: overall and per endpoint; deliveries claimed per round; how long a
    # claimed delivery stays with its dispatcher before another may take it.
    webhook_max_in_flight: int = Field(default=512, ge=1)
    webhook_max_per_endpoint: int = Field(default=16, ge=1)
    webhook_claim_batch: int = Field(default=500, ge=1)
    webhook_lease_s: float = Field(default=120.0, gt=0)
    webhooks_batch_size: int = Field(default=500, ge=1)

    # Privacy (issue "Privacy and compliance"). An erasure runs this long after it is asked
    # for (cancellable until then); topics that carry personal data keep records this long
    # (default: the cool-off), so no copy outlives an erasure by more than that.
    erasure_cool_off_s: float = Field(default=604_800.0, ge=0)
    erasure_poll_s: float = Field(default=60.0, gt=0)
    pii_topic_retention_ms: int | None = Field(default=None, ge=60_000)
    # Added to the wall clock wherever the product reads the time for a rule (the cool-off, an
    # attestation's window): a drill or a test moves days ahead without waiting.
    clock_offset_s: float = 0.0

    # Orders (seed 004): VIP at either threshold (spend in the currency's major units), and the
    # segment rules (documented in the README, "Orders").
    customers_vip_order_threshold: int = Field(default=10, ge=1)
    customers_vip_spend_threshold: int = Field(default=50_000, ge=1)
    segment_new_days: int = Field(default=30, ge=1)
    segment_returning_orders: int = Field(default=2, ge=2)
    segment_loyal_orders: int = Field(default=5, ge=2)
    segment_at_risk_days: int = Field(default=90, ge=1)
    orders_batch_size: int = Field(default=500, ge=1)
    segments_job_interval_s: float = Field(default=86_400.0, gt=0)

    # On SIGTERM/SIGINT, how long in-flight batches may take to finish before we stop anyway.
    graceful_timeout_s: float = Field(default=30.0, gt=0)
    # How long a health check waits for the broker or the database.
    health_timeout_s: float = Field(default=2.0, gt=0)

    @property
    def pii_retention_ms(self) -> int:
        """PII_TOPIC_RETENTION_MS, or the erasure cool-off (at least a minute)."""
        return self.pii_topic_retention_ms or max(60_000, int(self.erasure_cool_off_s * 1000))

    def now(self) -> datetime:
        """The time the product's rules go by: the wall clock plus CLOCK_OFFSET_S."""
        return clock(self.clock_offset_s)

    @property
    def public_url(self) -> str:
        """PUBLIC_BASE_URL, or this host's edge on HTTP_PORT when it is not set."""
        return (self.public_base_url or f"http://127.0.0.1:{self.http_port}").rstrip("/")
