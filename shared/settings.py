"""Settings from the environment (pydantic-settings). Built once at start-up and passed in."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    database_url: str = "postgresql://clients@127.0.0.1:54320/clients"
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
    # The outbox relay: events per publish round, and how often it looks without a NOTIFY.
    relay_batch_size: int = Field(default=1000, ge=1)
    relay_idle_poll_s: float = Field(default=1.0, gt=0)
    # Imports: rows per chunk (and at most this many bytes of it), chunks per handler call.
    import_chunk_rows: int = Field(default=1000, ge=1)
    import_chunk_bytes: int = Field(default=512 * 1024, ge=1024)
    imports_batch_size: int = Field(default=4, ge=1)
    # POST /integrations/v1/clients waits this long for the result before answering 202.
    http_result_timeout_s: float = Field(default=5.0, gt=0)

    # On SIGTERM/SIGINT, how long in-flight batches may take to finish before we stop anyway.
    graceful_timeout_s: float = Field(default=30.0, gt=0)
    # How long a health check waits for the broker or the database.
    health_timeout_s: float = Field(default=2.0, gt=0)
