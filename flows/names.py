"""Names the pipeline, dbt and Superset share, declared once on the pipeline's side.

Each side has one place for them: this module for `flows`, the vars of `dbt_project.yml` for
dbt, `superset/rempart_superset/names.py` for Superset's process (whose venv cannot import
`flows`). `tests/unit/test_names.py` fails when one side changes alone.
"""

from __future__ import annotations

from loaders.schema import LOADER_ROLE  # declared by the loaders, which import nothing of flows

# Schemas: the published marts Superset reads, and where dbt builds them before publication.
MARTS_SCHEMA = "marts"
PENDING_MARTS_SCHEMA = "marts_pending"

# Warehouse roles. The administrator provisions; the loader lands; the transformer is dbt.
ADMIN_ROLE = "rempart_admin"
TRANSFORMER_ROLE = "rempart_transformer"
# Who reads the marts (Superset's connections), derived from the departments seed, the one
# declaration of departments: `rempart_analyst` reads every department,
# `rempart_viewer_<department>` one. Both are members of the group `rempart_reader`, to which
# dbt grants SELECT on the marts, and whose rows the policies of
# macros/security/department_row_security.sql filter by `current_user`.
READER_GROUP = "rempart_reader"
ANALYST_ROLE = "rempart_analyst"
VIEWER_ROLE_PREFIX = "rempart_viewer_"
# Superset's event logger appends to the audit trail as this role, which can do nothing else.
SUPERSET_AUDIT_ROLE = "rempart_superset_audit"

# Superset's roles: the analysts read every department; `Viewer <department>` reads one,
# `Uploader <department>` may send its files through the upload page.
SUPERSET_ANALYST_ROLE = "Analyst"
SUPERSET_VIEWER_ROLE_PREFIX = "Viewer "
SUPERSET_UPLOADER_ROLE_PREFIX = "Uploader "

# Superset's accounts that are no person: the pipeline's service account, and the accounts
# reports run as (`reports_<department>`, `reports_data_stewards`).
SYNC_ACCOUNT = "rempart_sync"
REPORT_ACCOUNT_PREFIX = "reports_"
DATA_STEWARDS = "data_stewards"

__all__ = [
    "ADMIN_ROLE",
    "ANALYST_ROLE",
    "DATA_STEWARDS",
    "LOADER_ROLE",
    "MARTS_SCHEMA",
    "PENDING_MARTS_SCHEMA",
    "READER_GROUP",
    "REPORT_ACCOUNT_PREFIX",
    "SUPERSET_ANALYST_ROLE",
    "SUPERSET_AUDIT_ROLE",
    "SUPERSET_UPLOADER_ROLE_PREFIX",
    "SUPERSET_VIEWER_ROLE_PREFIX",
    "SYNC_ACCOUNT",
    "TRANSFORMER_ROLE",
    "VIEWER_ROLE_PREFIX",
]
