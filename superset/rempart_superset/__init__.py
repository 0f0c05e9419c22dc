"""Rempart's additions to Superset, imported by superset_config.py inside Superset's own
environment (.venv-superset): nothing here imports the project's `flows` or `loaders`.

One sub-package per concern, each saying in its `__init__.py` what it holds and what it may
import:

* `identity/`: who may log in and how (security manager, second factor, lockout, sessions,
  directory), and what a logged-in user may do (permission answers);
* `exports/`: what leaves Superset as a file (watermark, marking, dashboard downloads,
  printed pages, report delivery, page templates);
* `audit/`: Rempart's audit trail and Superset's action log, written once per request;
* `caching/`: the Redis layer every process shares (`redis_state.py`), finished chart
  answers kept in it, and the query contexts charts are answered from;
* `warehouse/`: which PostgreSQL role a user reads the warehouse as, and its pools;
* `names.py`: the role, prefix and account names shared with the pipeline (the contract
  module); it imports nothing, and any sub-package may import it;
* `routes.py`: the routes of Superset's that Rempart guards, decided on the rule Flask
  resolved, never the raw path; it imports only Flask, and any sub-package may import it;
* `templates/`: Jinja templates, found by path from identity/mfa_views.py (`rempart/`) and
  exports/page_templates.py (`page/`).

Imports point down: identity above exports, exports above caching, caching above warehouse.
The audit trail and the action log's writer (audit/audit_trail.py, audit/action_log_writer.py)
import nothing of the plugin and may be imported from anywhere; audit/request_events.py, the
event logger superset_config.py installs, sits above exports. Nothing here imports
superset_config.py or the scripts of superset/scripts/.
"""
