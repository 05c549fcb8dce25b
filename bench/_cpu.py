"""CPU used by groups of processes over a stretch of a bench, from Linux /proc: the workers,
PostgreSQL, Kafka, the bench itself. Beside a throughput figure it says which side the time went
to, without a separate profiling run."""

import os
from collections.abc import Callable

Pids = Callable[[], list[int]]


class CpuMeter:
    """`CpuMeter(workers=lambda: [...], postgres=postgres_pids)`, then `.used()` once the
    stretch is over: seconds of CPU per group. Each group's processes are listed again at the end:
    one started meanwhile counts in full, one that ended meanwhile is missed (PostgreSQL's
    backends come and go)."""

    def __init__(self, **groups: Pids) -> None:
        self.groups = groups
        self.before = {name: cpu_by_pid(pids()) for name, pids in groups.items()}

    def used(self) -> dict[str, float]:
        return {name: sum(now - self.before[name].get(pid, 0.0)
                          for pid, now in cpu_by_pid(pids()).items())
                for name, pids in self.groups.items()}


LABELS = {"postgres": "PostgreSQL", "kafka": "Kafka"}


def cpu_line(used: dict[str, float], n: int, unit: str, seconds: float) -> str:
    """`workers 3.3 s (332 µs a row), PostgreSQL 2.4 s (236 µs), of 9.7 core-s`: each side's CPU
    (a group named `clients_import` reads "clients import"), per unit of work, and what the
    cores could have given over `seconds`."""
    parts = [f"{LABELS.get(name, name.replace('_', ' '))} {s:.1f} s ({s / n * 1e6:,.0f} µs"
             f"{f' a {unit}' if i == 0 else ''})" for i, (name, s) in enumerate(used.items())]
    return ", ".join(parts) + f", of {seconds * (os.cpu_count() or 1):.1f} core-s"


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far."""
    return sum(cpu_by_pid(pids).values())


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime+stime
    return seconds


def postgres_pids() -> list[int]:
    """The local PostgreSQL's processes (none when the database is elsewhere)."""
    return pids_named("postgres")


def kafka_pids() -> list[int]:
    """The local Kafka brokers (the only Java processes these machines run)."""
    return pids_named("java")


def this_process() -> list[int]:
    return [os.getpid()]


def pids_named(comm: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == comm:
                        pids.append(int(entry))
            except OSError:
                continue
    return pids
