"""A measured step in a fresh interpreter, so that its memory is its own, and its figures.

Memory: `VmHWM` (Linux `/proc/self/status`) is a process's own peak since it started;
`ru_maxrss` is not always, since Linux carries a parent's peak over fork and exec into the
child's `ru_maxrss`: a benchmark that uses it keeps the parent small.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository


def _status_kib(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status (Linux), in KiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def ru_maxrss_kib(who: int = resource.RUSAGE_SELF) -> int:
    """Peak RSS as getrusage says, of this process or (RUSAGE_CHILDREN) its largest child."""
    peak = resource.getrusage(who).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def current_rss_kib() -> int:
    """Resident memory now (VmRSS), else the peak as getrusage says."""
    current = _status_kib("VmRSS")
    return current if current is not None else ru_maxrss_kib()


def peak_rss_kib() -> int:
    """This process's own peak resident memory (VmHWM), else as getrusage says."""
    peak = _status_kib("VmHWM")
    return peak if peak is not None else ru_maxrss_kib()


def module_name(script: str) -> str:
    """`benchmarks.<name>`, that `python -m` runs, of a benchmark's `__file__`."""
    module = ".".join(Path(script).resolve().relative_to(ROOT).with_suffix("").parts)
    return module.removesuffix(".__main__")


def run_child(script: str, *arguments: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run a benchmark (its `__file__`) again, as `python -m benchmarks.<name> arguments`
    from the repository root, in a fresh interpreter; the figures it reported."""
    module = module_name(script)
    done = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(arguments)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report_to_parent(figures: Mapping[str, object]) -> None:
    """A child's figures, as the last line of its output, for `run_child`."""
    print(json.dumps(figures))
