"""Thin resolvers: translate GraphQL arguments to domain calls and domain results to types."""
