"""What readers get: publishing serve.duckdb, and the read-only SQL sandbox over it."""
