"""Leaderboards: the most influential customers of a program by each metric."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rujuk.access import Principal
from rujuk.errors import RequestError
from rujuk.services.runtime import Runtime
from rujuk.vocabulary import InfluenceMetric

MAX_LEADERBOARD = 100


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """The top customers by a metric, and how current the ranking behind them is."""

    entries: list[tuple[int, float]]
    computed_at: datetime
    version: int
    current_version: int

    @property
    def stale(self) -> bool:
        """Whether the graph has moved since the ranking was computed."""
        return self.version < self.current_version


async def _ranking(runtime: Runtime, principal: Principal, program_id: int | None) -> int:
    principal.require_authenticated()
    if program_id is None or await runtime.graphs.program(program_id) is None:
        raise RequestError("no such program", "NOT_FOUND")
    principal.require_reader(program_id)
    return program_id


async def leaderboard(
    runtime: Runtime,
    principal: Principal,
    program_id: int | None,
    metric: InfluenceMetric,
    first: int,
) -> Leaderboard:
    """Top `first` (at most 100) customers, highest first, ties by externalId; erased left out."""
    if not 0 <= first <= MAX_LEADERBOARD:
        raise RequestError(f"first must be between 0 and {MAX_LEADERBOARD}", "INVALID_INPUT")
    program = await _ranking(runtime, principal, program_id)
    ranking = await runtime.rankings.ranking(program)
    return Leaderboard(
        entries=ranking.top(metric, first),
        computed_at=ranking.computed_at,
        version=ranking.version,
        current_version=runtime.graphs.graph(program).version,
    )
