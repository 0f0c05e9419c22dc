"""The landing benchmark (`python -m benchmarks.landing` runs its `__main__`): the loader
against the fastest plain baseline, on the same server."""
