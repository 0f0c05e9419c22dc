"""Rotation over 40 days of nightly sets (the clock faked through the sets' own dates):
exactly the declared daily, weekly and monthly sets remain, and the last verified one,
however old, is never deleted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flows.backup.backup_set import MANIFEST, list_sets
from flows.backup.rotation import Keep, sets_to_keep
from flows.runtime.settings import BackupSettings

FIRST = date(2026, 10, 25)


def _nightly_sets(folder: Path, days: int) -> list[str]:
    names = []
    for offset in range(days):
        night = datetime.combine(FIRST + timedelta(days=offset), datetime.min.time(), UTC)
        name = f"rempart-{night + timedelta(hours=2):%Y%m%dT%H%M%SZ}"
        (folder / name).mkdir(parents=True)
        (folder / name / MANIFEST).write_bytes(b"sealed")
        names.append(name)
    return names


def _set(day: int, month: int) -> str:
    return f"rempart-2026{month:02d}{day:02d}T020000Z"


def test_the_declared_sets_and_the_last_verified_one_remain(tmp_path: Path) -> None:
    _nightly_sets(tmp_path, 40)  # 25 October to 3 December 2026
    sets = list_sets(tmp_path)
    assert len(sets) == 40
    kept = sets_to_keep(sets, Keep(daily=7, weekly=4, monthly=3), verified={_set(28, 10)})
    daily = {_set(day, 11) for day in range(27, 31)} | {_set(day, 12) for day in (1, 2, 3)}
    weekly = {_set(22, 11), _set(15, 11)}  # with 3 December's and 29 November's, in daily
    monthly = {_set(31, 10)}  # with 30 November's and 3 December's
    assert kept == daily | weekly | monthly | {_set(28, 10)}


def test_nothing_is_kept_beyond_the_newest_when_the_policy_keeps_nothing(
    tmp_path: Path,
) -> None:
    _nightly_sets(tmp_path, 5)
    assert sets_to_keep(list_sets(tmp_path), Keep(0, 0, 0), verified=set()) == {_set(29, 10)}


def test_rotation_deletes_what_is_not_kept_in_every_destination(tmp_path: Path) -> None:
    from flows.backup.rotation import rotate

    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        _nightly_sets(folder, 40)
    backup = BackupSettings(
        _env_file=None, dirs=f"{first}:{second}", keep_daily=7, keep_weekly=4, keep_monthly=3
    )
    state = tmp_path / "state"
    would = rotate(backup, state, {_set(28, 10)}, dry_run=True, progress=lambda _: None)
    assert len(would) == 2 * (40 - 11)
    assert len(list_sets(first)) == 40  # a dry run deletes nothing
    removed = rotate(backup, state, {_set(28, 10)}, progress=lambda _: None)
    assert sorted(removed) == sorted(would)
    for folder in (first, second):
        assert len(list_sets(folder)) == 11
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            s.path.name for s in list_sets(folder)
        )
