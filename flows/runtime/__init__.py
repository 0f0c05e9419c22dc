"""What every other room runs on: settings per component, the embedded PostgreSQL server and
connections to it, the embedded Valkey server, the process supervisor, Prefect's API, the
environment handed to dbt and other tools, the secrets store, disk encryption checks.

May import `flows.names` and `loaders` only.
"""
