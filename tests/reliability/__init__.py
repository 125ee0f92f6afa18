"""Faults an operator meets in production: concurrency, a lost or frozen database, restarts."""
