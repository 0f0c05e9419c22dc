"""Which backup sets to keep: the newest set of each of the last N days, M weeks and K months
that have one (grandfather-father-son), the newest set, and always the last verified one,
so rotation can never leave an installation without a set known to restore.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from flows.backup.backup_set import BackupSet, list_sets
from flows.runtime.settings import BackupSettings


@dataclass(frozen=True)
class Keep:
    daily: int
    weekly: int
    monthly: int


def _newest_per_period(
    sets: list[BackupSet], period: Callable[[BackupSet], object], count: int
) -> list[BackupSet]:
    kept: list[BackupSet] = []
    seen: set[object] = set()
    for backup in sets:  # newest first
        key = period(backup)
        if key in seen:
            continue
        if len(seen) == count:
            break
        seen.add(key)
        kept.append(backup)
    return kept


def sets_to_keep(sets: Iterable[BackupSet], keep: Keep, verified: set[str]) -> set[str]:
    newest_first = sorted(sets, key=lambda s: s.created_at, reverse=True)
    if not newest_first:
        return set()
    kept = {newest_first[0].path.name}
    for period, count in (
        (lambda s: s.created_at.date(), keep.daily),
        (lambda s: s.created_at.isocalendar()[:2], keep.weekly),
        (lambda s: (s.created_at.year, s.created_at.month), keep.monthly),
    ):
        kept |= {s.path.name for s in _newest_per_period(newest_first, period, count)}
    last_verified = next((s for s in newest_first if s.path.name in verified), None)
    if last_verified is not None:
        kept.add(last_verified.path.name)
    return kept


def rotate(
    backup: BackupSettings,
    state_dir: Path,
    verified: set[str],
    dry_run: bool = False,
    progress: Callable[[str], None] = print,
) -> list[str]:
    """Delete, in every destination, the sets the policy does not keep; returns their paths.
    A set is renamed out of sight before it is deleted, so a crash never leaves half a set
    that looks whole."""
    keep = Keep(backup.keep_daily, backup.keep_weekly, backup.keep_monthly)
    removed = []
    for destination in backup.destinations(state_dir):
        sets = list_sets(destination)
        kept = sets_to_keep(sets, keep, verified)
        for backup_set in sets:
            if backup_set.path.name in kept:
                continue
            removed.append(str(backup_set.path))
            progress(f"{'would remove' if dry_run else 'removing'} {backup_set.path}")
            if not dry_run:
                doomed = destination / f".{backup_set.path.name}.deleting"
                os.rename(backup_set.path, doomed)
                shutil.rmtree(doomed)
    return removed
