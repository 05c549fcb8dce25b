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

    # On SIGTERM/SIGINT, how long in-flight batches may take to finish before we stop anyway.
    graceful_timeout_s: float = Field(default=30.0, gt=0)
    # How long a health check waits for the broker or the database.
    health_timeout_s: float = Field(default=2.0, gt=0)
