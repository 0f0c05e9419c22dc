"""What leaves Superset as a file, and how it says whose it is.

The statement and its marks on PDF, PNG, CSV and Excel (watermark.py), every file downloaded
marked and named (export_marking.py), dashboard downloads taken on the server for their owner
only (screenshot_downloads.py), pages printed to PDF by the reports' browser (page_print.py),
what Alerts & Reports send (report_delivery.py), and the page template that keeps the browser
from making unmarked images (page_templates.py, templates in ../templates/page/).

May import audit (the audit trail) and caching (the Redis layer). Imported by identity
(machine_sessions) and audit (request_events reads what export_marking recorded of a request).
"""
