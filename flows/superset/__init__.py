"""Superset, driven from outside its process: the server's lifecycle (`server`), its accounts
(`accounts`), the environment its mail and directory settings make (`environment`),
the sync of datasets, dashboards, roles and row-level security (`sync`: what Superset should
hold in `desired_state`, the charts and dashboards as code in `assets_bundle`, the roles and
filters in `access`, all through the REST client of `rest_client`), alerts and reports
(`schedules`), and the answer cache's invalidation and figures (`answer_cache`). Superset runs
in its own venv; this room talks to it through its command line, its REST API and Valkey.

May import `warehouse`, `seeds`, `runtime`, `names` and `loaders`.
"""
