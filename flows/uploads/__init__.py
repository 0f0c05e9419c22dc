"""The upload page and API (`rempart upload serve`): files streamed into the inbox by people
whom Superset vouches for, with a record of who sent them. `service` is the web application
(the page, the upload, the run that lands it, its status), `request_checks` what a request
must pass first (who, from where, what file); the page's HTML, script and style are the files
of `page/`.

May import every room below it on the map of `flows/__init__.py` (not `backup`, `metrics`).
"""
