"""The upload page and API (`rempart upload serve`): files streamed into the inbox by people
whom Superset vouches for, with a record of who sent them.

May import every room below it on the map of `flows/__init__.py` (not `backup`, `metrics`).
"""
