"""Operations on the secrets: export and import of the whole store under a passphrase
(`transfer`), rotation of a key or password and re-sealing what it sealed (`rotation`). The store
itself is `flows.runtime.secrets`, which every room reads. The room is named `keys`, not
`secrets`: it holds code, never a secret value, and scanners flag folders named for secrets.

May import every room below it on the map of `flows/__init__.py`.
"""
