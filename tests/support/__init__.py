"""Helpers the tests (and the benchmarks) share: local stand-ins for outside services,
Kafka and HTTP helpers."""
