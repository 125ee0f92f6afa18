"""The domain's operations: each checks the caller's rights, validates, and writes in one
transaction."""
