"""The walk up a purchaser's effective ancestors, level by level (rewards.md, "Recording a
purchase" step 3): who stands at which level, under which tier, along which path."""

from __future__ import annotations

from dataclasses import dataclass

from rujuk.graph.referral_graph import Member, ReferralGraph
from rujuk.graph.tiers import tier_of
from rujuk.records import Program, TierRule


@dataclass(frozen=True, slots=True)
class Rung:
    """An ancestor that may earn at a level: its tier is read before the purchase counts."""

    ancestor: Member
    level: int
    tier: TierRule
    # The referees whose links lie between the purchaser and this ancestor.
    path: tuple[int, ...]


def ladder(graph: ReferralGraph, program: Program, customer_id: int) -> list[Rung]:
    """The ancestors that may earn on the customer's purchase, nearest first.

    An erased ancestor earns nothing: with compression on it is skipped and keeps the level
    for the next one; with it off its level is lost. The walk stops past the most levels
    any tier pays; an ancestor whose own tier pays fewer levels than its level is still a
    rung (its tier decides, in the rule, that it earns nothing).
    """
    max_levels = program.max_levels
    rungs: list[Rung] = []
    path = [customer_id]
    level = 1
    for ancestor, _ in graph.effective_ancestors(customer_id):
        if level > max_levels:
            break
        if ancestor.erased:
            if not program.compression:
                level += 1
        else:
            rungs.append(Rung(ancestor, level, tier_of(program, ancestor), tuple(path)))
            level += 1
        path.append(ancestor.id)
    return rungs
