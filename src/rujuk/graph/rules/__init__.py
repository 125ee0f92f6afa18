"""The reward rules: one module per kind of reward, each owning what it pays on a purchase
and what it becomes after a refund, with the walk up the tree and the cap they share.

Pure arithmetic over the in-memory graph: nothing here reads PostgreSQL.
"""

from rujuk.graph.rules.cap import cap_from_deepest
from rujuk.graph.rules.commission import REFERRER_COMMISSION
from rujuk.graph.rules.drafts import FrozenReward, RewardDraft
from rujuk.graph.rules.engine import UnknownRewardKind, purchase_rewards, refunded_amounts
from rujuk.graph.rules.welcome import REFEREE_WELCOME

__all__ = [
    "REFEREE_WELCOME",
    "REFERRER_COMMISSION",
    "FrozenReward",
    "RewardDraft",
    "UnknownRewardKind",
    "cap_from_deepest",
    "purchase_rewards",
    "refunded_amounts",
]
