"""How many workers `rujuk serve` starts when --workers is not given (bench/README.md,
"Workers", measured why)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rujuk.config import Settings, available_cores, database_is_local, default_workers


def settings(database_url: str | None) -> Settings:
    return Settings(
        database_url=database_url, data_dir=Path("."), admin_token=None, log_level="INFO"
    )


@pytest.mark.parametrize(
    ("cores", "local", "workers"),
    [
        (1, True, 1),
        (2, True, 1),
        (4, True, 2),
        (8, True, 4),
        (1, False, 1),
        (2, False, 2),
        (8, False, 8),
    ],
)
def test_workers_are_the_cores_postgresql_leaves(cores: int, local: bool, workers: int) -> None:
    assert default_workers(cores, local) == workers


@pytest.mark.parametrize(
    ("url", "local"),
    [
        (None, True),  # the embedded server
        ("postgresql://rujuk@localhost/rujuk", True),
        ("postgresql://rujuk@127.0.0.1:5432/rujuk", True),
        ("postgresql://rujuk@[::1]/rujuk", True),
        ("postgresql:///rujuk?host=/var/run/postgresql", True),
        ("postgresql://rujuk@db.internal:5432/rujuk", False),
        ("postgresql://rujuk@10.0.0.5/rujuk", False),
    ],
)
def test_a_database_on_this_machine_is_told_from_its_url(url: str | None, local: bool) -> None:
    assert database_is_local(settings(url)) is local


@pytest.mark.parametrize(
    ("cpu_max", "limit"),
    [("max 100000\n", None), ("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1)],
)
def test_a_containers_cpu_limit_bounds_the_cores(
    tmp_path: Path, cpu_max: str, limit: int | None
) -> None:
    machine = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text(cpu_max)
    expected = machine if limit is None else min(machine, limit)
    assert available_cores(tmp_path / "cpu.max") == expected
    assert available_cores(tmp_path / "absent") == machine
