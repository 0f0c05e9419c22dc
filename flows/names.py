"""Names the pipeline, dbt and Superset share: schemas, roles, role prefixes."""

from __future__ import annotations

TRANSFORMER_ROLE = "rempart_transformer"

# Who reads the marts (Superset's connections), derived from the departments seed, the one
# declaration of departments: `rempart_analyst` reads every department,
# `rempart_viewer_<department>` one. Both are members of the group `rempart_reader`, to which dbt
# grants SELECT on the marts, and whose rows the policies of
# macros/security/department_row_security.sql filter by `current_user`. The role names here and
# the vars in dbt_project.yml must agree.
READER_GROUP = "rempart_reader"
ANALYST_ROLE = "rempart_analyst"
VIEWER_ROLE_PREFIX = "rempart_viewer_"
# Superset's event logger appends to the audit trail as this role, which can do nothing else.
SUPERSET_AUDIT_ROLE = "rempart_superset_audit"
