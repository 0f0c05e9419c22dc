"""What a dbt build did, from its run_results.json, and what a query dbt sent was about."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness.report import progress

SLOWEST = 5  # nodes listed per build
TIMED_OUT = -1  # the return code recorded for such a build


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    status: str
    seconds: float
    rows_affected: int | None
    message: str

    @property
    def resource_type(self) -> str:
        return self.unique_id.split(".", 1)[0]

    @property
    def label(self) -> str:
        parts = self.unique_id.split(".")
        # test.<package>.<name>.<hash>; model.<package>.<name>; unit_test.<package>.<model>.<name>
        name = parts[2] if parts[0] == "test" and len(parts) > 3 else ".".join(parts[2:])
        return f"{parts[0]} {name}"

    @property
    def failed(self) -> bool:
        return self.status in ("error", "fail", "runtime error", "skipped")


@dataclass
class Build:
    label: str
    arguments: list[str]
    log_path: Path
    seconds: float = 0.0
    returncode: int | None = None
    dbt_seconds: float | None = None  # run_results.json's elapsed_time
    dbt_version: str = ""
    nodes: list[NodeResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # what the database says afterwards
    invocation_id: str = ""
    publish_seconds: float | None = None  # write-audit-publish into `marts` (warehouse/publish.py)
    publish_summary: str = ""

    @property
    def failed(self) -> bool:
        return self.returncode != 0

    def slowest(self, count: int = SLOWEST) -> list[NodeResult]:
        return sorted(self.nodes, key=lambda node: node.seconds, reverse=True)[:count]

    def seconds_by_type(self) -> dict[str, tuple[int, float]]:
        totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for node in self.nodes:
            totals[node.resource_type][0] += 1
            totals[node.resource_type][1] += node.seconds
        ordered = sorted(totals.items(), key=lambda item: item[1][1], reverse=True)
        return {kind: (int(count), seconds) for kind, (count, seconds) in ordered}


def read_run_results(build: Build, path: Path) -> None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        progress(f"  cannot read {path}: {error}")
        return
    build.dbt_seconds = document.get("elapsed_time")
    build.dbt_version = document.get("metadata", {}).get("dbt_version", "")
    build.invocation_id = document.get("metadata", {}).get("invocation_id", "")
    for result in document.get("results", []):
        response = result.get("adapter_response") or {}
        build.nodes.append(
            NodeResult(
                unique_id=result.get("unique_id", "?"),
                status=str(result.get("status", "?")),
                seconds=float(result.get("execution_time") or 0.0),
                rows_affected=response.get("rows_affected"),
                message=str(result.get("message") or ""),
            )
        )


def describe_query(text: str) -> str:
    """`node <id>: <statement start>` from a query dbt sent (it opens with a JSON comment)."""
    node = ""
    if text.startswith("/*") and "*/" in text:
        comment, text = text[2:].split("*/", 1)
        try:
            node = str(json.loads(comment).get("node_id") or "")
        except ValueError:
            node = ""
    statement = " ".join(text.split())[:90]
    return f"node {node}: {statement}" if node else statement
