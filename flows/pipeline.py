"""The main job: one Prefect flow chains landing, dbt build and the Superset sync.

    ingest_inbox  ->  build_models (dbt build, every node's result in the run)  ->  publish_marts
                  ->  sync_superset

A rejected file does not stop the others. dbt builds the marts into `marts_pending`; only a
complete build in which every model and test passed is published into `marts`, the schema
that Superset and the reader roles read (write-audit-publish, flows/warehouse/publish.py). A failed
model or test publishes nothing and stops the flow before the sync: readers keep the previous
publication, and the failed build's rows wait in `marts_pending`. Every build is logged with
its failures in `marts.pipeline_builds`, and every run's outcome in the audit trail.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger
from rich.console import Console

from flows.privacy.erasure import returned_subjects
from flows.runtime.database import DatabaseError
from flows.runtime.settings import Settings, load_settings
from flows.runtime.tools import tool_environment
from flows.seeds import shapes as seed_shapes
from flows.superset import answer_cache, sync
from flows.warehouse import build_state, publish
from flows.warehouse.landing import ingest
from flows.warehouse.run_audit import (
    BuildFailed,
    BuildSummary,
    LandingSummary,
    PipelineSummary,
    audit_run,
)


def _is_transient(_task: object, _run: object, state: object) -> bool:
    """Retry on a lost database (restart, network), never on a bug or a bad file."""
    try:
        state.result()  # type: ignore[attr-defined]
    except DatabaseError:
        return True
    except Exception:
        return False
    return False


@task(
    name="ingest_inbox",
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=_is_transient,
)
def ingest_inbox(settings: Settings, paths: list[Path]) -> LandingSummary:
    console = Console(stderr=True, width=120)
    results = ingest(settings, paths, console)
    summary = LandingSummary()
    for result in results:
        if result.status == "landed":
            summary.landed += 1
            summary.rows += result.rows
        elif result.status == "duplicate":
            summary.duplicates += 1
        elif result.status == "failed":
            summary.rejected += 1
            summary.rejected_files.append(result.message)
        else:
            summary.skipped += 1
    return summary


def _dbt_environment(settings: Settings) -> None:
    """dbt runs in this process: give it the connection settings the `rempart` command uses."""
    os.environ.update(tool_environment(settings))


def build_models(
    settings: Settings,
    select: str | None = None,
    full_refresh: bool = False,
    new_data_only: bool = False,
) -> BuildSummary:
    """`dbt build` in this process; each node's result in the run's log as dbt writes it, and
    all of them in one table artifact of the flow run (`dbt-build-results`).

    Not one Prefect task per node (prefect-dbt's runner): each task rebuilds Prefect's settings
    and an API client, about 0.3 s of CPU per node, which tripled a build on two cores.

    Called inside the pipeline flow, not as a subflow of its own: the build belongs to the run
    that landed the files, and a subflow's bookkeeping would cost a second per run.

    `new_data_only`: the project is the one the last published build ran, so build only what
    landed data can change (`source:raw+`: not the seeds and what only they feed, nor the unit
    tests, which test code that has not changed). When it passes, publishing it also marks it
    as a complete passed build in dbt's build log (flows/warehouse/publish.py)."""
    logger = get_run_logger()
    _dbt_environment(settings)
    if not new_data_only:
        _reload_reshaped_seeds(settings)
    args = ["build"]
    if select:
        args += ["--select", select]
    elif new_data_only:
        # No --vars: they would end dbt's partial parse on every switch of scope.
        args += ["--select", "source:raw+", "--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    result = _invoke_dbt(settings, args)
    summary = BuildSummary()
    node_results = getattr(result.result, "results", None) or []
    for node_result in node_results:
        node = node_result.node
        status = _status(node_result)
        kind = node.resource_type
        if kind in ("test", "unit_test"):
            if status == "pass":
                summary.tests_passed += 1
            elif status == "skipped":
                summary.skipped += 1
            else:
                summary.tests_failed += 1
                summary.failures.append(f"test {node.name}: {status}")
        elif kind == "model":
            if status == "success":
                summary.models_built += 1
            elif status == "skipped":
                summary.skipped += 1
            else:
                summary.models_failed += 1
                summary.failures.append(f"model {node.name}: {status}")
        elif status in ("error", "fail"):
            summary.failures.append(f"{kind} {node.name}: {status}")
        elif status == "skipped":
            summary.skipped += 1
        else:
            summary.other_nodes += 1
    if not result.success and not summary.failures:
        summary.failures.append(f"dbt failed: {result.exception or 'see the dbt log'}")
    summary.complete = not select
    summary.scope = "new data" if new_data_only else ("selected" if select else "everything")
    summary.invocation_id = _invocation_id(settings)
    _record_node_results(node_results, summary)
    logger.info(
        "dbt build: %s models built, %s failed; %s tests passed, %s failed",
        summary.models_built,
        summary.models_failed,
        summary.tests_passed,
        summary.tests_failed,
    )
    return summary


def _invoke_dbt(settings: Settings, args: list[str]) -> Any:
    """One dbt command in this process, its log lines forwarded to the run's log (dbt writes
    its own log file too; it prints nothing itself)."""
    from dbt.cli.main import dbtRunner  # dbt: loaded when a build runs

    logger = get_run_logger()

    def forward(event: Any) -> None:
        level = _LOG_LEVELS.get(event.info.level)
        if level is not None and event.info.msg:
            logger.log(level, event.info.msg)

    project = settings.project_dir
    options = [
        "--project-dir", str(project),
        "--profiles-dir", str(project / "dbt_project"),
        "--target-path", str(settings.dbt_target_dir),
        "--log-level", "none",
        "--log-level-file", "info",
        "--no-use-colors",
    ]  # fmt: skip
    # dbt records sys.argv as its invocation command (target/run_results.json, its log):
    # the dbt command it runs, not the rempart command line (which may hold an identifier).
    command_line, sys.argv = sys.argv, ["dbt", *args]
    try:
        return dbtRunner(callbacks=[forward]).invoke([*args, *options])
    finally:
        sys.argv = command_line


# dbt's event levels, as Prefect's logger takes them; debug and test events stay in dbt's file.
_LOG_LEVELS = {"info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def _status(node_result: Any) -> str:
    return str(node_result.status).lower().rsplit(".", 1)[-1]


def _record_node_results(node_results: list[Any], summary: BuildSummary) -> None:
    """Every node's result in one table of the flow run, where Prefect's UI shows artifacts."""
    rows = [
        {
            "node": result.node.unique_id,
            "status": _status(result),
            "seconds": round(float(result.execution_time or 0.0), 2),
            "message": str(result.message or ""),
        }
        for result in node_results
    ]
    if rows:
        create_table_artifact(
            rows,
            key="dbt-build-results",
            description=f"dbt build ({summary.scope}): {len(summary.failures)} failure(s)",
        )


def _reload_reshaped_seeds(settings: Settings) -> None:
    """Seeds whose columns changed since dbt loaded them, loaded afresh
    (flows/seeds/shapes.py); the build that follows runs everything they feed."""
    logger = get_run_logger()
    reshaped = seed_shapes.reshaped_seeds(settings)
    for name, (wanted, loaded) in reshaped.items():
        logger.info(
            "seed %s: its columns changed (now %s, loaded with %s): loading it afresh",
            name,
            ", ".join(wanted),
            ", ".join(loaded),
        )
    if reshaped:
        _invoke_dbt(settings, ["seed", "--full-refresh", "--select", *sorted(reshaped)])


def _invocation_id(settings: Settings) -> str:
    """The id of the dbt invocation that just ran, as its run results record it."""
    path = Path(settings.dbt_target_dir) / "run_results.json"
    try:
        return str(json.loads(path.read_text())["metadata"]["invocation_id"])
    except (OSError, ValueError, KeyError):
        return ""


@task(name="publish_marts")
def publish_marts(settings: Settings, build: BuildSummary, project_hash: str) -> str:
    """Publish the marts of a passing complete build; log every build with its failures."""
    logger = get_run_logger()
    if not build.ok:
        publish.record_build(settings, build.invocation_id, build.failures, False, project_hash)
        message = f"nothing published: {len(build.failures)} failure(s); readers keep the last"
    elif not build.complete:
        publish.record_build(settings, build.invocation_id, [], False, project_hash)
        message = "nothing published: a build of selected models does not vouch for the rest"
    else:
        report = publish.publish(
            settings,
            build.invocation_id,
            progress=logger.info,
            project_hash=project_hash,
            vouch_for_build=build.scope == "new data",
        )
        # After the commit: a request that reads the new generation reads the new marts.
        logger.info(answer_cache.new_cache_generation(settings))
        message = report.summary()
    logger.info(message)
    return message


@task(name="sync_superset")
def sync_superset(settings: Settings, published: bool) -> str:
    """Datasets from the marts just built, dashboards from superset/assets, roles and RLS,
    alerts and reports; after a publication, the alerts that watch new data are evaluated."""
    logger = get_run_logger()
    if not settings.superset.sync:
        message = "skipped: REMPART_SUPERSET_SYNC is off"
        logger.info(message)
        return message
    evaluate = published and settings.superset.alerts_after_publish
    report = sync.sync(settings, progress=logger.info, evaluate_alerts=evaluate)
    message = report.summary()
    if evaluate:
        queued = report.schedules.queued
        logger.info("alerts evaluated after the publication: %s", ", ".join(queued) or "none")
        message += f"; {len(queued)} alert(s) evaluated"
    return message


def _show_progress() -> None:
    """The run's steps and dbt's node results at INFO, in the console and in Prefect's API;
    Prefect's own machinery stays at PREFECT_LOGGING_LEVEL (WARNING unless the user says)."""
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        run_logger = logging.getLogger(name)
        if run_logger.getEffectiveLevel() > logging.INFO:
            run_logger.setLevel(logging.INFO)


@flow(name="rempart_pipeline", log_prints=True)
def rempart_pipeline(
    inbox: str | None = None,
    select: str | None = None,
    full_refresh: bool = False,
    force: bool = False,
) -> PipelineSummary:
    """Land the inbox, build the dbt project if anything changed, publish what passed, sync
    Superset; audit the outcome."""
    started = time.monotonic()
    _show_progress()
    settings = load_settings()
    if inbox:
        settings = settings.model_copy(update={"inbox_dir": Path(inbox).resolve()})
    summary = PipelineSummary(landing=LandingSummary())
    try:
        summary.landing = ingest_inbox(settings, [])
        fingerprint = build_state.project_fingerprint(settings)
        unchanged = None
        if not (force or select or full_refresh or summary.landing.landed):
            unchanged = build_state.up_to_date(settings, fingerprint)
        if unchanged:
            summary.publish = unchanged
            summary.sync = "not run: nothing was built"
        else:
            new_data_only = not (force or select or full_refresh) and (
                build_state.project_unchanged(settings, fingerprint)
            )
            summary.build = build_models(settings, select, full_refresh, new_data_only)
            summary.publish = publish_marts(settings, summary.build, fingerprint)
            summary.erased_back = returned_subjects(settings)
        if summary.build and not summary.build.ok:
            summary.outcome = "build_failed"
            summary.reason = "; ".join(summary.build.failures[:3])
            summary.sync = "not run: the build failed"
        else:
            if summary.build:
                published = summary.build.ok and summary.build.complete
                summary.sync = sync_superset(settings, published)
            if summary.landing.rejected:
                summary.outcome = "files_rejected"
                summary.reason = f"{summary.landing.rejected} file(s) rejected"
    except Exception as error:
        summary.outcome = "error"
        summary.reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise
    finally:
        summary.seconds = round(time.monotonic() - started, 1)
        # If the database is what failed, the error itself is reported instead.
        with contextlib.suppress(DatabaseError):
            audit_run(settings, summary)
    if summary.outcome == "build_failed":
        raise BuildFailed(summary)
    return summary
