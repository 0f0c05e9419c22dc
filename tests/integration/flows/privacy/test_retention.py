"""`rempart retention apply` on the demo sources, some files aged past their source's period
(their reception date moved back): their landed rows, archived and quarantined copies go, the
marts are rebuilt without them, the history keeps or drops them as declared, the audit trail
records each removal; newer files are untouched; `--dry-run` changes nothing."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Installation

# Runs the whole pipeline (or a whole installation): not in `make test-fast`.
pytestmark = pytest.mark.slow

AGED = {  # file name: years back (sales_fr keeps 5 years and its history; tickets 1, not it)
    "sales_fr_2026-09.csv": 6,
    "support_tickets_2026-09.json": 2,
    "support_tickets_broken.json": 2,
}


def _state(installation: Installation) -> dict[str, object]:
    query = installation.query
    records = dict(
        query(
            "select f.file_id, count(r.*) from raw.files f "
            "left join raw.records r using (file_id) group by 1"
        )
    )
    files = sorted(
        str(p.relative_to(installation.work))
        for folder in (installation.settings.archive_dir, installation.settings.quarantine_dir)
        for p in folder.rglob("*")
        if p.is_file()
    )
    return {
        "records": records,
        "copies": files,
        "facts": dict(
            query("select source_file_id, count(*) from marts.fct_kpi_values group by 1")
        ),
        "history": dict(
            query("select source_file_id, count(*) from snapshots.snap_kpi_values group by 1")
        ),
        "events": query("select count(*) from audit.events")[0][0],
    }


@pytest.fixture
def aged(installation: Installation) -> dict[str, int]:
    installation.env["REMPART_SUPERSET_SYNC"] = "false"
    installation.rempart("examples")
    (installation.work / "inbox" / "support_tickets_broken.json").write_text("{not json")
    installation.rempart("run", check=False)  # the broken file is rejected, by design
    ids = {}
    for name, years in AGED.items():
        [(file_id,)] = installation.query(
            "update raw.files set received_at = received_at - make_interval(years => %s) "
            "where file_name = %s returning file_id",
            years,
            name,
        )
        ids[name] = file_id
    installation.rempart("run", "--force")  # the marts learn the new dates
    return ids


def test_expired_files_lose_rows_copies_and_marts_values(
    installation: Installation, aged: dict[str, int]
) -> None:
    before = _state(installation)
    _, said = installation.rempart("retention", "apply", "--dry-run")
    for name in AGED:
        assert f"due: {name}" in said, said
    assert "3 file(s) due; --dry-run: nothing removed" in said
    assert _state(installation) == before

    sales, tickets, broken = (aged[name] for name in AGED)
    assert before["records"][sales] and before["facts"][sales] and before["history"][tickets]
    assert any("support_tickets_broken.json" in path for path in before["copies"])

    _, said = installation.rempart("retention", "apply")
    assert "retention: 3 file(s) removed" in said, said
    after = _state(installation)
    assert after["records"][sales] == after["records"][tickets] == 0
    untouched = {k: v for k, v in before["records"].items() if k not in aged.values()}
    assert {k: after["records"][k] for k in untouched} == untouched
    assert [p for p in before["copies"] if p not in after["copies"]] == sorted(
        [p for p in before["copies"] if "sales_fr_2026-09" in p or "support_tickets_2026-09" in p]
        + [p for p in before["copies"] if "support_tickets_broken" in p]
    )
    assert sales not in after["facts"] and tickets not in after["facts"]
    assert after["history"].get(sales) == before["history"][sales]  # keep
    assert tickets not in after["history"]  # remove
    expired = installation.query(
        "select file_id from raw.files where expired_at is not null order by 1"
    )
    assert [file_id for (file_id,) in expired] == sorted(aged.values())
    events = installation.query(
        "select file_id, row_count, details ->> 'mart_history' from audit.events "
        "where action = 'retention_applied' order by file_id"
    )
    assert [(f, h) for f, _, h in events] == sorted(
        [(sales, "keep"), (tickets, "remove"), (broken, "remove")]
    )
    assert dict((f, n) for f, n, _ in events)[sales] == before["records"][sales]
    [(kept, removed, next_removal)] = installation.query(
        "select files_kept, files_expired, next_removal_at from marts.dq_source_quality "
        "where source_kind = 'support_tickets'"
    )
    assert removed == 2 and kept == 1 and next_removal is not None
    assert "audit trail intact" in installation.rempart("audit", "verify")[1]
    _, said = installation.rempart("retention", "apply")
    assert "nothing is due" in said
