"""Several `tminus run` processes on one PostgreSQL store (invariant 12)."""
