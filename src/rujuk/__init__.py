"""rujuk: a GraphQL backend for customer referral programs."""

__version__ = "0.1.0"
