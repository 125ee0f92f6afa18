"""The example tabs the admin console opens with.

Queries take the program and customer through variables, so the documents
stay fixed and the server only fills in ids that exist in its database.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

# Shown in the variables editor when the server knows no demo data; GraphQL
# rejects them with a clear "not found", which tells the admin what to replace.
PROGRAM_PLACEHOLDER = "<program id: run the Programs tab>"
CUSTOMER_PLACEHOLDER = "<customer externalId>"


@dataclass(frozen=True)
class ExampleTab:
    """One tab: a GraphQL document and the JSON text of its variables."""

    query: str
    variables: str | None


TOP_INFLUENCERS = """\
# Top influencers of the program by each influence metric.
# Press the run button (or Ctrl-Enter).
query TopInfluencers($programId: ID!, $first: Int! = 5) {
  byInfluence: leaderboard(programId: $programId, metric: INFLUENCE, first: $first) {
    ...Ranked
  }
  byPageRank: leaderboard(programId: $programId, metric: PAGERANK, first: $first) {
    ...Ranked
  }
  byNetworkSize: leaderboard(programId: $programId, metric: NETWORK_SIZE, first: $first) {
    ...Ranked
  }
  byNetworkRevenue: leaderboard(programId: $programId, metric: NETWORK_REVENUE, first: $first) {
    ...Ranked
  }
  byDirectReferrals: leaderboard(programId: $programId, metric: DIRECT_REFERRALS, first: $first) {
    ...Ranked
  }
}

fragment Ranked on LeaderboardEntry {
  rank
  score
  customer {
    externalId
    displayName
    stats {
      tier
      directReferrals
      networkSize
      networkRevenue
    }
  }
}
"""

DOWNLINE = """\
# A customer's downline three levels deep, with tiers and reward balances.
# Open the "Referral tree" panel on the left to see the result as a tree
# (amounts in the program's currency).
query Downline($programId: ID!, $externalId: String!) {
  customer(programId: $programId, externalId: $externalId) {
    id
    externalId
    displayName
    program {
      currency
    }
    stats {
      tier
      networkSize
    }
    balance {
      pending
      approved
    }
    downline(maxDepth: 3, first: 100) {
      totalCount
      edges {
        depth
        parentId
        node {
          id
          externalId
          displayName
          stats {
            tier
            networkSize
          }
          balance {
            pending
            approved
          }
        }
      }
    }
  }
}
"""

UPLINE = """\
# A customer's upline: the referrer, the referrer's referrer, and so on.
query Upline($programId: ID!, $externalId: String!) {
  customer(programId: $programId, externalId: $externalId) {
    externalId
    displayName
    stats {
      tier
      depth
    }
    referral {
      code
      channel
      status
      fraudSignals
    }
    ancestors(maxDepth: 10) {
      externalId
      displayName
      stats {
        tier
        networkSize
      }
    }
  }
}
"""

PROGRAM_STATS = """\
# Program-wide figures, and referrals, conversions and revenue per channel.
query ProgramStats($programId: ID!) {
  program(id: $programId) {
    name
    currency
    stats {
      customers
      referredCustomers
      qualifiedReferrals
      conversionRate
      revenue
      referredRevenue
      rewardCost
      roi
      kFactor
      byChannel {
        channel
        referrals
        conversions
        revenue
      }
    }
  }
}
"""

RECORD_PURCHASE = """\
# Records a purchase and shows the rewards it pays up the tree.
# orderId is the idempotency key: running this again returns the first result.
mutation RecordPurchase(
  $programId: ID!
  $externalId: String!
  $orderId: String!
  $amount: Decimal!
) {
  recordPurchase(
    input: {
      programId: $programId
      customerExternalId: $externalId
      orderId: $orderId
      amount: $amount
    }
  ) {
    purchase {
      orderId
      amount
      customer {
        displayName
      }
    }
    rewards {
      kind
      level
      rate
      tier
      amount
      status
      beneficiary {
        displayName
      }
    }
    userErrors {
      field
      code
      message
    }
  }
}
"""

REVIEW_QUEUE = """\
# The review queue: sign-ups held as FLAGGED, newest first, with the fraud
# signals that held them (SHARED_DEVICE, DUPLICATE_CONTACT, VELOCITY,
# DISPOSABLE_EMAIL, SHARED_IP). Rewards that flow through a flagged link stay
# PENDING until it is reviewed. Copy a referral's id into a new tab and run:
#
#   mutation {
#     reviewReferral(input: {referralId: "<id>", decision: APPROVE, note: "checked"}) {
#       referral { status }
#       userErrors { code message }
#     }
#   }
#
# APPROVE makes the link ACTIVE: its rewards settle like any other.
# REJECT is final: the PENDING rewards through it are REVERSED.
# For more, pass the page's endCursor as $after.
query ReviewQueue($programId: ID!, $first: Int! = 20, $after: String) {
  program(id: $programId) {
    referrals(status: FLAGGED, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          fraudSignals
          createdAt
          channel
          code
          referee {
            externalId
            displayName
          }
          referrer {
            externalId
            displayName
          }
        }
      }
    }
  }
}
"""

PROGRAMS = """\
# Every program, with its rules: tiers, rates and flat amounts, limits, milestones.
# A program's rules change with updateProgram (rulesVersion counts the changes), e.g.
#   mutation { updateProgram(input: {programId: "...", minPurchaseAmount: "50000"})
#              { program { rulesVersion } userErrors { field code message } } }
query Programs {
  programs {
    id
    name
    currency
    rulesVersion
    active
    maxPayoutRate
    refereeReward
    holdDays
    minPurchaseAmount
    commissionWindowDays
    commissionPurchaseLimit
    monthlyCapPerReferrer
    timeZone
    tiers {
      name
      minQualifiedReferrals
      minNetworkRevenue
      levelRates
      levelAmounts
    }
    milestones {
      qualifiedReferrals
      reward
    }
  }
}
"""


def _variables(**values: str | int) -> str:
    return json.dumps(values, indent=2)


def example_tabs(
    program_id: str | None,
    external_id: str | None,
    upline_external_id: str | None = None,
    order_id: str | None = None,
) -> list[ExampleTab]:
    """The example tabs, in the order the console shows them.

    ``upline_external_id`` (a customer deep in the tree) defaults to
    ``external_id``. ``order_id`` defaults to a fresh random one, so each page
    load demonstrates a new purchase while re-running the tab shows idempotency.
    """
    program = program_id if program_id is not None else PROGRAM_PLACEHOLDER
    customer = external_id if external_id is not None else CUSTOMER_PLACEHOLDER
    deep = upline_external_id if upline_external_id is not None else customer
    order = order_id if order_id is not None else f"console-{secrets.token_hex(4)}"
    return [
        ExampleTab(TOP_INFLUENCERS, _variables(programId=program, first=5)),
        ExampleTab(DOWNLINE, _variables(programId=program, externalId=customer)),
        ExampleTab(UPLINE, _variables(programId=program, externalId=deep)),
        ExampleTab(PROGRAM_STATS, _variables(programId=program)),
        ExampleTab(
            RECORD_PURCHASE,
            _variables(programId=program, externalId=deep, orderId=order, amount="250000"),
        ),
        ExampleTab(REVIEW_QUEUE, _variables(programId=program, first=20)),
        ExampleTab(PROGRAMS, None),
    ]
