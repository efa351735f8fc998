"""The operators' dashboard: figures from the database, runtime state, live counters."""
