"""Backups: encrypted, self-describing sets that prove they can be read back (create, verify,
restore, rotate).

May import `privacy`, `superset`, `warehouse`, `seeds`, `runtime`, `names` and `loaders`.
"""
