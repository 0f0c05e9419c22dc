"""The landing schema's SQL, one file per schema, run by `loaders.schema.migrate`.

`raw.sql` (the registry, sheets and records, and the partition functions), `private.sql` (the
keys and the keyed hash), `audit.sql` (the hash-chained audit trail), `loader_grants.sql` (what
the loader role may do). Plain PostgreSQL, linted by `make lint` (sqlfluff, placeholder
templater: see `.sqlfluff` here).
"""
