"""PostgreSQL access: the pool, the embedded server, migrations and the queries."""
