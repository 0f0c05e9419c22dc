"""Personal data: the register of processing, subject access, the right to erasure and the
retention of files past their source's period.

May import `superset`, `warehouse`, `seeds`, `runtime`, `names` and `loaders`.
"""
