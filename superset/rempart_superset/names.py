"""Names Superset's process shares with the pipeline and dbt, declared once on this side.

Superset's venv cannot import `flows`, so the pipeline declares the same names in
`flows/names.py` and dbt in the vars of `dbt_project.yml`; `tests/unit/test_names.py` fails
when one side changes alone. This module imports nothing.
"""

# Warehouse roles Superset connects as: the analyst reads every department, a viewer role
# (`rempart_viewer_<department>`) one; the event logger appends to the audit trail as the last.
ANALYST_ROLE = "rempart_analyst"
VIEWER_ROLE_PREFIX = "rempart_viewer_"
SUPERSET_AUDIT_ROLE = "rempart_superset_audit"

# Superset's roles: `Viewer <department>` reads one department, `Uploader <department>` may
# send its files through the upload page; Admin and Analyst read every department.
SUPERSET_ANALYST_ROLE = "Analyst"
SUPERSET_VIEWER_ROLE_PREFIX = "Viewer "
SUPERSET_UPLOADER_ROLE_PREFIX = "Uploader "

# Accounts that are no person: the pipeline's service account, and those reports run as.
SYNC_ACCOUNT = "rempart_sync"
REPORT_ACCOUNT_PREFIX = "reports_"
