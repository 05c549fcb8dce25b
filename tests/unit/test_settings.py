import pytest
from pydantic import ValidationError

from shared.settings import Settings, servers


def test_defaults_are_the_documented_local_infrastructure(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "HTTP_PORT"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert s.database_url == "postgresql://clients@127.0.0.1:54320/clients"
    assert s.http_port == 8080


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/x")
    monkeypatch.setenv("HTTP_PORT", "9000")
    monkeypatch.setenv("TOPIC_PARTITIONS", "12")
    s = Settings()
    assert s.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert s.database_url == "postgresql://u:p@db:5432/x"
    assert s.http_port == 9000
    assert s.topic_partitions == 12


@pytest.mark.parametrize(("var", "value"), [("HTTP_PORT", "70000"), ("HTTP_PORT", "http"),
                                            ("LOG_FORMAT", "xml"), ("TOPIC_PARTITIONS", "0")])
def test_bad_values_are_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch, var: str,
                                                   value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError, match=var.lower()):
        Settings()


def test_the_public_base_url_follows_the_http_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("HTTP_PORT", "9000")
    assert Settings().public_url == "http://127.0.0.1:9000"
    assert Settings().model_copy(update={"http_port": 9100}).public_url == \
        "http://127.0.0.1:9100"
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://edge.example.com/")
    assert Settings().public_url == "https://edge.example.com"


def test_the_tests_never_use_the_broker_and_database_make_run_reads(settings: Settings) -> None:
    """`make run` consumes the default topics under the default groups: what the tests write
    must not be there for it (their own broker and database, see the Makefile)."""
    defaults = {name: Settings.model_fields[name].default
                for name in ("kafka_bootstrap_servers", "database_url")}
    assert settings.kafka_bootstrap_servers != defaults["kafka_bootstrap_servers"]
    assert settings.database_url != defaults["database_url"]


def test_a_list_of_brokers_is_split_for_the_kafka_clients() -> None:
    assert servers("kafka-1:9092, kafka-2:9092,") == ["kafka-1:9092", "kafka-2:9092"]
    assert servers("127.0.0.1:9092") == ["127.0.0.1:9092"]
