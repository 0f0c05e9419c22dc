"""What Superset's processes share in Redis, and the chart answers kept there.

The Redis layer (redis_state.py: its URL, clients, Superset's caches kept apart per
department and publication, rate limits' and Celery's Redis, the figures of `rempart
metrics`), finished chart-data answers (chart_response_cache.py), and the query context a
chart written without one is answered from (chart_query_context.py).

May import warehouse (a user's warehouse role names their cache entries). Imported by
identity, exports and superset_config.py; never imports them.
"""
