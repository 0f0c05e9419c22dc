"""The nightly maintenance: one Prefect flow that backs up, proves the backup restores, rotates
the sets and applies each source's retention period.

    create_backup  ->  verify_backup  ->  rotate_backups  ->  apply_retention

Retention runs whatever became of the backup: keeping data past its declared period is a
breach of its own. A set that fails verification fails the flow, after rotation (which never
deletes the last verified set), so the operator's alert on failed runs fires.
`rempart maintenance` runs it once (from cron, without a Prefect server); `prefect.yaml`
schedules it for teams that run one.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.logging import get_run_logger

from flows.backup.backup_set import create_backups
from flows.backup.rotation import rotate
from flows.backup.verify import last_verifications, verify_set
from flows.pipeline import rempart_pipeline
from flows.privacy.retention import RetentionError
from flows.privacy.retention import apply_retention as remove_due
from flows.runtime.settings import Settings, load_settings
from flows.warehouse.provision import prepare_database


class MaintenanceFailed(RuntimeError):
    """The backup was made but does not prove it restores; the message says why."""


@task(name="create_backup")
def create_backup(settings: Settings) -> str:
    made = create_backups(settings, progress=get_run_logger().info)
    return str(made[0].path)


@task(name="verify_backup")
def verify_backup(settings: Settings, path: str) -> list[str]:
    result = verify_set(settings, Path(path), progress=get_run_logger().info)
    return result.problems


@task(name="rotate_backups")
def rotate_backups(settings: Settings) -> list[str]:
    passed = {name for name, (ok, _) in last_verifications(settings).items() if ok}
    return [str(path) for path in rotate(settings.backup, settings.state_dir, passed)]


@task(name="apply_retention")
def apply_retention(settings: Settings) -> str:
    try:
        report = remove_due(settings, progress=get_run_logger().info)
    except RetentionError as error:  # nothing built yet: nothing can be due
        get_run_logger().info(f"retention: skipped: {error}")
        return ""
    return report.summary(dry_run=False) if report.due else ""


@flow(name="rempart_maintenance", log_prints=True)
def rempart_maintenance() -> dict[str, object]:
    """Back up, verify, rotate, apply retention (and rebuild the marts if a file expired);
    raise if the new set does not verify."""
    settings = load_settings()
    prepare_database(settings)
    made = create_backup(settings)
    problems = verify_backup(settings, made)
    removed = rotate_backups(settings)
    expired = apply_retention(settings)
    if expired:  # the marts, rebuilt from what raw still holds, show no expired value
        rempart_pipeline(full_refresh=True)
    outcome = {
        "backup": made,
        "verified": not problems,
        "rotated_out": removed,
        "retention": expired,
    }
    if problems:
        raise MaintenanceFailed(f"{made} does not verify: {'; '.join(problems[:3])}")
    return outcome
