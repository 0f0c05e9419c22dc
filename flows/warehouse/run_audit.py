"""What a run did, step by step: landing, build, publication, sync. No Prefect import here, so
the command line can report a run it did not need to start."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field

from flows.runtime.database import connection_info, role_connection
from flows.runtime.settings import Settings
from loaders.audit import anchor_head, append_event
from loaders.schema import LOADER_ROLE


class BuildFailed(RuntimeError):
    """dbt reported a failed model, test or seed; the sync did not run."""

    def __init__(self, summary: PipelineSummary) -> None:
        super().__init__(summary.reason)
        self.summary = summary


@dataclass
class LandingSummary:
    landed: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    rows: int = 0
    rejected_files: list[str] = field(default_factory=list)


@dataclass
class BuildSummary:
    models_built: int = 0
    models_failed: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    other_nodes: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    invocation_id: str = ""
    complete: bool = True  # vouches for every node: no --select of the user's
    scope: str = "everything"  # or "new data" (what landed can change) or "selected"

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class PipelineSummary:
    landing: LandingSummary
    build: BuildSummary | None = None
    publish: str = "not run"
    # Files that bring back a person erased before: (file name, rows), from the marts.
    erased_back: list[tuple[str, int]] = field(default_factory=list)
    sync: str = "not run"
    seconds: float = 0.0
    outcome: str = "success"  # success | files_rejected | build_failed | error
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def audit_run(settings: Settings, summary: PipelineSummary) -> None:
    """Every run's outcome goes to the audit trail, whether it built anything or not; the
    trail's head is then anchored outside the database."""
    with role_connection(settings, LOADER_ROLE).connect(autocommit=True) as conn:
        append_event(conn, "pipeline_run", settings.user, details=summary.as_dict())
    with connection_info(settings).connect() as conn:
        if problem := anchor_head(conn, settings.audit_anchor):
            print(f"rempart: {problem}", file=sys.stderr)
