"""The transform benchmark (`python -m benchmarks.transform` runs its `__main__`): a full dbt
build against an incremental one."""
