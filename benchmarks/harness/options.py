"""The benchmarks' command lines: the parser, and argument types."""

from __future__ import annotations

import argparse

from benchmarks.harness.processes import module_name


def argument_parser(doc: str, script: str) -> argparse.ArgumentParser:
    """A parser for a benchmark (its `__doc__` and `__file__`), described by its first line."""
    return argparse.ArgumentParser(
        prog=f"python -m {module_name(script)}", description=doc.splitlines()[0]
    )


def positive_int(text: str) -> int:
    """A count of at least 1; `1_000_000` and `1,000,000` are read as 1000000."""
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value
