"""The reward rules: one module per kind of reward (commission.py, welcome.py,
milestone.py), each owning what it pays on a purchase and what it becomes after a refund,
with the walk up the tree (walk.py) and the caps (cap.py) they share; engine.py puts them
together.

Pure arithmetic over the in-memory graph and its book (graph/reward_book.py): nothing here
reads PostgreSQL.
"""

from rujuk.graph.reward_book import MILESTONE_BONUS, RewardChange
from rujuk.graph.rules.cap import cap_from_deepest
from rujuk.graph.rules.commission import REFERRER_COMMISSION
from rujuk.graph.rules.drafts import FrozenReward, RewardDraft
from rujuk.graph.rules.engine import (
    UnknownRewardKind,
    changed,
    created,
    is_eligible,
    purchase_rewards,
    record_purchase,
    refunded_amounts,
)
from rujuk.graph.rules.milestone import on_approval
from rujuk.graph.rules.welcome import REFEREE_WELCOME

__all__ = [
    "MILESTONE_BONUS",
    "REFEREE_WELCOME",
    "REFERRER_COMMISSION",
    "FrozenReward",
    "RewardChange",
    "RewardDraft",
    "UnknownRewardKind",
    "cap_from_deepest",
    "changed",
    "created",
    "is_eligible",
    "on_approval",
    "purchase_rewards",
    "record_purchase",
    "refunded_amounts",
]
