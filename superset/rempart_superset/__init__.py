"""Rempart's additions to Superset, imported by superset_config.py inside Superset's own
environment (.venv-superset): nothing here imports the project's `flows` package."""
