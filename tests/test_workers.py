"""How many workers `rujuk serve` starts when --workers is not given (bench/README.md,
"Workers", measured why)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rujuk.config import Settings, database_is_local, default_workers


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
