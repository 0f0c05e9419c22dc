"""Personal data: the register of processing, subject access, the right to erasure and the
retention of files past their source's period.

The erasure (`erasure`) keeps its register in `erasure_register`, and removes the person from
the landed files (`landed_file_erasure`) and from the rejected ones (`rejected_file_erasure`).

May import `superset`, `warehouse`, `seeds`, `runtime`, `names` and `loaders`.
"""
