"""The warehouse as the pipeline keeps it: provisioning (schemas, roles, keys), landing the
inbox through `loaders`, the uploaders' records, the state of builds, publication of tested
marts (write-audit-publish) and each run's audit event.

May import `seeds`, `runtime`, `names` and `loaders`.
"""
