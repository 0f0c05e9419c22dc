"""Benchmarks: scripts that measure speed and memory and print ratios measured in one run.

Each is a module of this package, run from the repository root:

    .venv/bin/python -m benchmarks.<name> [--help]

What they share (the throw-away installation, measuring in a fresh process, the sales export
generator, the tables they print) is in `benchmarks.harness`.
"""
