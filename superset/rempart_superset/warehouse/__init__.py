"""How Superset reads the warehouse: as which PostgreSQL role, over which pooled connections.

Which role a user reads as (warehouse_access.py, used by DB_CONNECTION_MUTATOR in
superset_config.py) and one connection pool per role (warehouse_pool.py).

Imports nothing of the plugin: the bottom layer, imported by caching and superset_config.py.
"""
