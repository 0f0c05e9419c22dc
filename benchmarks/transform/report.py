"""The transform benchmark's report: the builds' times and ratios against targets, the
counts the database gives against those expected, and where each build's time went."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys

from benchmarks.harness.report import MB, Column, format_table, verdict
from benchmarks.harness.sales import BIG_FILE, SMALL_FILE, DataPlan
from benchmarks.transform.builds import TIMED_OUT, Build
from benchmarks.transform.runner import Benchmark

INCREMENTAL_TARGET = 0.15  # incremental build seconds / full build seconds
PUBLISH_TARGET = 0.20  # publishing the incremental build / that build's seconds


def _check(found: int, expected: int) -> str:
    return "ok" if found == expected else "CHECK"


def results_table(bench: Benchmark, plan: DataPlan) -> str:
    rows: list[tuple[str, str, str, str]] = []
    full, incremental = bench.builds.get("full"), bench.builds.get("incremental")
    refresh = bench.builds.get("refresh")

    def seconds(build: Build | None) -> str:
        if build is None:
            return "not run"
        if build.returncode == TIMED_OUT:
            return f"> {build.seconds:.0f} s"
        if build.failed:
            return "FAILED"
        return f"{build.seconds:.1f} s"

    rows.append(("full build (dbt build, empty warehouse)", seconds(full), "", ""))
    rows.append(("incremental build (dbt build, +1% rows)", seconds(incremental), "", ""))
    if full and incremental and not full.failed and not incremental.failed:
        ratio = incremental.seconds / full.seconds
        rows.append(
            (
                "incremental / full",
                f"{ratio:.1%}",
                f"< {INCREMENTAL_TARGET:.0%}",
                verdict(ratio < INCREMENTAL_TARGET),
            )
        )
        if full.dbt_seconds and incremental.dbt_seconds:
            # dbt's own elapsed time leaves out the 2-3 s the interpreter takes to import dbt
            # and load the parse cache: what the builds cost, against what the command costs.
            rows.append(
                (
                    "  the same, dbt's elapsed time",
                    f"{incremental.dbt_seconds / full.dbt_seconds:.1%}",
                    "",
                    "info",
                )
            )
    else:
        rows.append(("incremental / full", "n/a", f"< {INCREMENTAL_TARGET:.0%}", "FAILED"))
    for build, what in ((full, "full"), (incremental, "incremental")):
        if build and build.publish_seconds is not None:
            rows.append(
                (
                    f"publish after the {what} build ({build.publish_summary})",
                    f"{build.publish_seconds:.2f} s",
                    "",
                    "info",
                )
            )
    if incremental and incremental.publish_seconds is not None and not incremental.failed:
        ratio = incremental.publish_seconds / incremental.seconds
        rows.append(
            (
                "publish / incremental build",
                f"{ratio:.1%}",
                f"<= {PUBLISH_TARGET:.0%}",
                verdict(ratio <= PUBLISH_TARGET),
            )
        )
        published, built = incremental.counts["published_fct_rows"], incremental.counts["fct_rows"]
        rows.append(
            (
                "rows published in marts.fct_kpi_values",
                f"{published:,}",
                f"{built:,}",
                _check(published, built),
            )
        )
    rows.append(("full refresh (dbt build --full-refresh)", seconds(refresh), "", "info"))

    if full and full.counts:
        keys = full.counts["fct_keys"]
        rejected = full.counts["rejected_rows"]
        snapshot = full.counts["snapshot_rows"]
        rows += [
            (
                "distinct KPI keys after the full build",
                f"{keys:,}",
                f"{plan.rows:,}",
                _check(keys, plan.rows),
            ),
            ("rows rejected (dq_rejected_rows)", f"{rejected:,}", "0", _check(rejected, 0)),
            (
                "snapshot versions after the full build",
                f"{snapshot:,}",
                f"{plan.rows:,}",
                _check(snapshot, plan.rows),
            ),
        ]
    if incremental and incremental.counts:
        merged = incremental.counts["from_small_file"]
        updated = incremental.counts["updated"]
        rows.append(
            (
                "rows the incremental run merged",
                f"{merged:,}",
                f"{plan.small_rows:,}",
                _check(merged, plan.small_rows),
            )
        )
        rows.append(
            (
                "  of which updates (version_number > 1)",
                f"{updated:,}",
                f"{plan.updates:,}",
                _check(updated, plan.updates),
            )
        )
        keys = incremental.counts["fct_keys"]
        expected_keys = plan.rows + plan.new_keys
        rows.append(
            (
                "distinct KPI keys after it",
                f"{keys:,}",
                f"{expected_keys:,}",
                _check(keys, expected_keys),
            )
        )
        if full and full.counts:
            grown = incremental.counts["snapshot_rows"] - full.counts["snapshot_rows"]
            closed = incremental.counts["snapshot_closed"] - full.counts["snapshot_closed"]
            rows.append(
                (
                    "snapshot versions added by it",
                    f"{grown:,}",
                    f"{plan.small_rows:,}",
                    _check(grown, plan.small_rows),
                )
            )
            rows.append(
                (
                    "snapshot versions it closed",
                    f"{closed:,}",
                    f"{plan.updates:,}",
                    _check(closed, plan.updates),
                )
            )
            rows.append(
                (
                    "snapshot versions in all",
                    f"{incremental.counts['snapshot_rows']:,}",
                    "",
                    "",
                )
            )
    if refresh and refresh.counts and incremental and incremental.counts:
        same = refresh.counts["fct_rows"] == incremental.counts["fct_rows"] and (
            refresh.counts["updated"] == incremental.counts["updated"]
        )
        rows.append(
            (
                "full refresh gives the same fct_kpi_values",
                "yes" if same else "no",
                "yes",
                "ok" if same else "CHECK",
            )
        )

    columns = [
        Column("measure"),
        Column("value", ">", 10),
        Column("expected", ">", 10),
        Column("verdict"),
    ]
    return format_table(columns, rows, rule=True)


def slowest_table(build: Build) -> str:
    dbt_seconds = f"{build.dbt_seconds:.1f} s" if build.dbt_seconds is not None else "n/a"
    lines = [
        f"{build.label}: {build.seconds:.1f} s wall clock, dbt's elapsed_time {dbt_seconds}, "
        f"{len(build.nodes)} nodes"
    ]
    if not build.nodes:
        lines.append("  (no run_results.json)")
        return "\n".join(lines)
    lines.append(f"  {'seconds':>8}  {'share':>6}  {'rows':>10}  {'status':<8}  node")
    wall = build.seconds or 1.0
    for node in build.slowest():
        counted = node.resource_type in ("model", "snapshot", "seed")  # a test's is its 1 row
        affected = node.rows_affected if counted else None  # and a view's is -1
        rows = f"{affected:,}" if affected is not None and affected >= 0 else ""
        lines.append(
            f"  {node.seconds:>8.2f}  {node.seconds / wall:>6.1%}  {rows:>10}  "
            f"{node.status:<8}  {node.label}"
        )
    by_type = ", ".join(
        f"{kind} {seconds:.1f} s ({count})"
        for kind, (count, seconds) in build.seconds_by_type().items()
    )
    lines.append(f"  node time by type (2 threads, so it may exceed the wall clock): {by_type}")
    return "\n".join(lines)


def report(
    bench: Benchmark,
    plan: DataPlan,
    server: str,
    sizes: dict[str, int],
    fingerprints: tuple[str, str],
) -> None:
    versions = {build.dbt_version for build in bench.builds.values() if build.dbt_version}
    if not versions:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.add(importlib.metadata.version("dbt-core"))
    print(
        f"Rempart transform benchmark ({server}; dbt {', '.join(sorted(versions)) or '?'}; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )
    print(
        f"Data: {BIG_FILE} {plan.rows:,} rows ({sizes[BIG_FILE] / MB:.1f} MB), then "
        f"{SMALL_FILE} {plan.small_rows:,} rows ({plan.new_keys:,} new keys, "
        f"{plan.updates:,} updates)."
    )
    print(
        "Planner statistics: "
        + (
            "refreshed by ANALYZE of raw.files, raw.sheets, raw.records after each landing "
            "(--analyze)."
            if bench.analyze
            else "as the loader leaves them (no ANALYZE after landing)."
        )
    )
    before, after = fingerprints
    if before == after:
        print(f"dbt project sources: fingerprint {before}, unchanged during the run.")
    else:
        print(
            f"CHECK dbt project sources changed during the run ({before} -> {after}): "
            "the builds may have run different versions of the models."
        )
    landed = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in bench.landing_seconds.items())
    if landed:
        print(f"Landing (not part of the builds): {landed}.")
    print()
    print(results_table(bench, plan))
    for build in bench.builds.values():
        print()
        print(slowest_table(build))
    print()
    print(
        "Seconds: wall clock of the whole `dbt build` command (start-up, seeds, models,\n"
        "snapshot, tests and unit tests), after a CHECKPOINT, from a warm partial-parse cache.\n"
        "Node seconds and rows: dbt's run_results.json (execution_time, rows_affected)."
    )
    if bench.failures:
        print()
        for failure in bench.failures:
            print(f"FAILED {failure}")
