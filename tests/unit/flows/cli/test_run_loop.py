from __future__ import annotations

import os
import time
from pathlib import Path

from flows.cli.run_loop import _stable_files


def test_a_file_is_taken_only_once_it_stops_changing(tmp_path: Path) -> None:
    seen: dict[Path, tuple[int, float]] = {}
    growing = tmp_path / "sales.csv"
    growing.write_text("a;b\n")
    old = time.time() - 60
    os.utime(growing, (old, old))

    # First look at a file last written a minute ago (moved in, copied with its time): take it.
    assert _stable_files(tmp_path, seen, quiet_seconds=5) == [growing]
    fresh = tmp_path / "tickets.csv"
    fresh.write_text("a;b\n")
    assert _stable_files(tmp_path, seen, quiet_seconds=5) == [growing]  # fresh: not yet
    os.utime(fresh, (old, old))
    assert _stable_files(tmp_path, seen, quiet_seconds=5) == [growing]  # time moved: wait
    assert sorted(_stable_files(tmp_path, seen, quiet_seconds=5)) == [growing, fresh]
    fresh.unlink()

    with growing.open("a") as handle:  # still being written: size and time change
        handle.write("1;2\n")
    assert _stable_files(tmp_path, seen, quiet_seconds=5) == []
    assert _stable_files(tmp_path, seen, quiet_seconds=5) == []  # too recent
    os.utime(growing, (old, old))
    _stable_files(tmp_path, seen, quiet_seconds=5)
    assert _stable_files(tmp_path, seen, quiet_seconds=5) == [growing]


def test_temporary_and_hidden_names_are_ignored(tmp_path: Path) -> None:
    old = time.time() - 60
    for name in ("upload.csv.part", ".hidden.csv", "copy.tmp", "download.crdownload"):
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (old, old))
    seen: dict[Path, tuple[int, float]] = {}
    _stable_files(tmp_path, seen, quiet_seconds=1)
    assert _stable_files(tmp_path, seen, quiet_seconds=1) == []
