"""Nothing lost, nothing half-written, nothing landed twice, nothing altered unnoticed."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from flows.runtime.settings import PROJECT_DIR
from loaders.audit import anchor_head, read_anchor
from tests.conftest import run_rempart
from tests.integration.conftest import Landing


def _big_csv(path: Path, rows: int, salt: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("date,department,kpi,value,comment\n")
        for number in range(rows):
            handle.write(f"2026-09-{number % 28 + 1:02d},sales,revenue,{number}.5,{salt} row\n")


def _landed_rows_of(db: psycopg.Connection, sha256: str) -> list[tuple[int, int]]:
    return db.execute(
        "select files.file_id, count(records.file_id) from raw.files as files "
        "left join raw.records as records using (file_id) "
        "where files.sha256 = %s and files.status = 'landed' group by files.file_id",
        (sha256,),
    ).fetchall()


def test_killed_loader_leaves_nothing_and_the_next_run_lands_the_file_once(
    landing: Landing,
) -> None:
    rows = 600_000
    path = landing.inbox / "large.csv"
    _big_csv(path, rows, "kill-test")
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()

    loader = subprocess.Popen(
        [str(Path(sys.executable).parent / "rempart"), "ingest"],
        cwd=PROJECT_DIR,
        env={**os.environ, **landing.env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            copying = landing.db.execute(
                "select count(*) from pg_stat_activity "
                "where application_name = 'rempart-loader' and query ilike 'copy%%'"
            ).fetchone()
            if copying and copying[0]:
                break
            assert loader.poll() is None, "the loader finished before it could be killed"
            time.sleep(0.02)
        else:
            raise AssertionError("the loader never started copying")
        loader.send_signal(signal.SIGKILL)
        loader.wait(timeout=10)
    finally:
        if loader.poll() is None:
            loader.kill()

    # The server notices the dropped connection and rolls the transaction back.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        busy = landing.db.execute(
            "select count(*) from pg_stat_activity where application_name = 'rempart-loader'"
        ).fetchone()
        if busy == (0,):
            break
        time.sleep(0.1)
    assert path.exists(), "the file stays in the inbox until its landing commits"
    assert _landed_rows_of(landing.db, sha256) == []
    assert landing.db.execute(
        "select count(*) from raw.files where sha256 = %s", (sha256,)
    ).fetchone() == (0,)

    result = run_rempart("ingest", env=landing.env())
    assert "large.csv │ landed │ 600,000" in result.stderr
    [(_, count)] = _landed_rows_of(landing.db, sha256)
    assert count == rows
    assert not path.exists()


def test_concurrent_runs_land_each_file_exactly_once(landing: Landing) -> None:
    names = []
    for number in range(6):
        _big_csv(landing.inbox / f"part-{number}.csv", 20_000, f"concurrent-{number}")
        names.append(f"part-{number}.csv")
    command = [str(Path(sys.executable).parent / "rempart"), "ingest"]
    env = {**os.environ, **landing.env()}
    runs = [
        subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs

    statuses = landing.db.execute(
        "select file_name, status, count(*) from raw.files where file_name = any(%s) "
        "group by file_name, status order by file_name",
        (names,),
    ).fetchall()
    assert statuses == [(name, "landed", 1) for name in names]
    counts = landing.db.execute(
        "select count(*) from raw.records join raw.files using (file_id) where file_name = any(%s)",
        (names,),
    ).fetchone()
    assert counts == (6 * 20_000,)
    assert list(landing.inbox.iterdir()) == []


def test_audit_verify_detects_an_edited_and_a_deleted_event(landing: Landing) -> None:
    path = landing.drop("audited.csv", "kpi,value\naudited,1\n")
    [result] = landing.ingest(path)
    assert run_rempart("audit", "verify").stdout.startswith("audit trail intact: ")

    db = landing.db
    [landed_event, archived_event] = db.execute(
        "select event_id from audit.events where file_id = %s and action in ('landed', "
        "'archived') order by event_id",
        (result.file_id,),
    ).fetchall()
    original = db.execute(
        "select row_count from audit.events where event_id = %s", landed_event
    ).fetchone()
    try:
        db.execute("update audit.events set row_count = 999 where event_id = %s", landed_event)
        edited = run_rempart("audit", "verify", check=False)
        assert edited.returncode == 4
        assert edited.stdout.strip() == (
            f"audit trail BROKEN at event {landed_event[0]}: its content does not match its "
            "hash: it was edited"
        )
    finally:
        db.execute(
            "update audit.events set row_count = %s where event_id = %s",
            (original[0], landed_event[0]),
        )
    assert run_rempart("audit", "verify").returncode == 0

    db.execute(
        "create temporary table saved_event as select * from audit.events where event_id = %s",
        landed_event,
    )
    try:
        db.execute("delete from audit.events where event_id = %s", landed_event)
        deleted = run_rempart("audit", "verify", check=False)
        assert deleted.returncode == 4
        assert deleted.stdout.strip() == (
            f"audit trail BROKEN at event {archived_event[0]}: it is chained to a hash no "
            "remaining event has: the event before it was deleted or altered"
        )
    finally:
        db.execute("insert into audit.events select * from saved_event")
        db.execute("drop table saved_event")
    assert run_rempart("audit", "verify").returncode == 0


def test_audit_verify_names_a_cut_tail_and_the_anchor_stays_below_it(landing: Landing) -> None:
    for number in range(3):
        landing.ingest(landing.drop(f"tail-{number}.csv", f"kpi,value\ntail,{number}\n"))
    intact = run_rempart("audit", "verify")
    assert intact.stdout.startswith("audit trail intact: ")
    anchored = read_anchor(landing.settings.audit_anchor)
    assert anchored is not None

    db = landing.db
    db.execute(
        "create temporary table cut_events as select * from audit.events "
        "order by event_id desc limit 3"
    )
    [(newest_kept,)] = db.execute(
        "select max(event_id) from audit.events where event_id not in "
        "(select event_id from cut_events)"
    ).fetchall()
    try:
        db.execute("delete from audit.events where event_id in (select event_id from cut_events)")
        cut = run_rempart("audit", "verify", check=False)
        assert cut.returncode == 4
        assert cut.stdout.strip() == (
            f"audit trail BROKEN at event {anchored.event_id}: the trail ends at event "
            f"{newest_kept}, but its head was anchored outside the database at this event: "
            "the newest events were deleted"
        )
        # Whatever writes next cannot move the anchor down onto the shortened trail.
        problem = anchor_head(db, landing.settings.audit_anchor)
        assert problem is not None and f"event {anchored.event_id}" in problem
        assert read_anchor(landing.settings.audit_anchor) == anchored
    finally:
        db.execute("insert into audit.events select * from cut_events")
        db.execute("drop table cut_events")
    assert run_rempart("audit", "verify").returncode == 0


def test_the_loader_role_cannot_rewrite_history(landing: Landing) -> None:
    path = landing.drop("guarded.csv", "kpi,value\nguarded,1\n")
    [result] = landing.ingest(path)
    url = run_rempart("db", "url").stdout.strip().replace("rempart_admin@", "rempart_loader@")
    with psycopg.connect(url, autocommit=True) as loader:
        for statement in (
            "delete from audit.events",
            "update audit.events set actor = 'mallory'",
            "select * from audit.events",
            f"delete from raw.records where file_id = {result.file_id}",
            "select * from raw.records limit 1",  # nor read what landed
            "select * from raw.sheets limit 1",
            "select * from private.keys",
        ):
            try:
                loader.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                continue
            raise AssertionError(f"the loader role was allowed to run: {statement}")


def test_archive_round_trips_and_tampering_fails_loudly(landing: Landing, tmp_path: Path) -> None:
    content = "kpi;valeur\nchiffre_affaires;1 234,56\n".encode("cp1252") * 1
    path = landing.drop("archived.csv", content)
    [result] = landing.ingest(path)
    archive_path = Path(str(landing.file_row(result.file_id)["archive_path"]))
    assert archive_path.is_file() and content not in archive_path.read_bytes()

    restored = tmp_path / "restored.csv"
    run_rempart("archive", "decrypt", str(archive_path), "-o", str(restored))
    assert restored.read_bytes() == content

    tampered = tmp_path / "tampered.enc"
    data = bytearray(archive_path.read_bytes())
    data[-20] ^= 0x01
    tampered.write_bytes(bytes(data))
    failed = run_rempart(
        "archive", "decrypt", str(tampered), "-o", str(tmp_path / "out.csv"), check=False
    )
    assert failed.returncode == 1
    assert "fails authentication" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not (tmp_path / "out.csv").exists()


def test_command_line_errors_are_one_clear_line(landing: Landing) -> None:
    missing = run_rempart("ingest", "/nonexistent/file.csv", env=landing.env(), check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "rempart: error: no such file or folder: /nonexistent/file.csv"
