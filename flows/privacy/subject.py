"""Finding one person in what Rempart holds, by an identifier the seeds declare.

`seeds/personal_data.csv` says which landed column of which source identifies a person
(`is_identifier`), and what it is (an e-mail, an employee ID); the dbt project says which
header of which sheet of which file is that column (`int_sheet_columns_mapped`, from the
header aliases). A person's rows are the landed rows whose cell there, compared as the models
compare text (trimmed, inner spaces collapsed, case ignored), is the identifier; for a JSON
cell, its declared key.

`rempart privacy report` (subject access) prints those rows: the person's own rows only,
never another's; and records in the audit trail that a report was made, with the keyed
pseudonym of the identifier, never the identifier.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime

import psycopg

from flows.settings import Settings
from loaders.audit import append_event

# The cell and the identifier compared as the models' normalise_key macro compares text:
# trimmed, inner runs of space collapsed, lower-cased. For a JSON cell, its declared key.
ROWS_SQL = """
with rows_found as (
    select files.file_id, files.file_name, records.sheet, records.row_number,
           sheets.headers, records.cells, files.archive_path, retention.kept_until,
           case
               when %(json_key)s::text is null then records.cells[mapped.column_position]
               when pg_input_is_valid(records.cells[mapped.column_position], 'jsonb')
                   then records.cells[mapped.column_position]::jsonb ->> %(json_key)s::text
           end as identifier
    from intermediate.int_sheet_columns_mapped as mapped
    join raw.sheets as sheets
        on sheets.file_id = mapped.file_id and sheets.sheet = mapped.sheet_name
    join raw.records as records
        on records.file_id = mapped.file_id and records.sheet = mapped.sheet_name
    join raw.files as files on files.file_id = mapped.file_id
    left join marts.dq_file_retention as retention on retention.file_id = mapped.file_id
    where mapped.source_kind = %(source_kind)s
      and mapped.column_name = %(column_name)s
      and files.expired_at is null
)
select file_id, file_name, sheet, row_number, headers, cells, archive_path, kept_until
from rows_found
where lower(regexp_replace(btrim(identifier), '[[:space:]]+', ' ', 'g'))
    = lower(regexp_replace(btrim(%(value)s::text), '[[:space:]]+', ' ', 'g'))
order by file_id, sheet, row_number
"""


class SubjectError(RuntimeError):
    """The person cannot be looked for as asked; the message says why."""


@dataclass(frozen=True)
class PersonRow:
    file_id: int
    file_name: str
    sheet: str
    row_number: int
    headers: list[str]
    cells: list[str | None]
    archive_path: str | None
    kept_until: datetime | None
    found_in: str  # source kind and column


def identifier_columns(settings: Settings, kind: str) -> list[dict[str, str]]:
    with (settings.project_dir / "seeds" / "personal_data.csv").open(encoding="utf-8") as seed:
        rows = list(csv.DictReader(seed))
    kinds = sorted({row["personal_data"] for row in rows if row["is_identifier"] == "true"})
    found = [r for r in rows if r["personal_data"] == kind and r["is_identifier"] == "true"]
    if not found:
        raise SubjectError(
            f"{kind} identifies no one in seeds/personal_data.csv; identifiers: {', '.join(kinds)}"
        )
    return found


def find_person(
    conn: psycopg.Connection, settings: Settings, kind: str, value: str
) -> list[PersonRow]:
    if (
        conn.execute("select to_regclass('intermediate.int_sheet_columns_mapped')").fetchone()[0]
        is None
    ):
        raise SubjectError("the dbt project has not been built here yet: `rempart run` first")
    found = []
    for column in identifier_columns(settings, kind):
        parameters = {
            "source_kind": column["source_kind"],
            "column_name": column["column_name"],
            "json_key": column["json_key"] or None,
            "value": value,
        }
        where = f"{column['source_kind']}.{column['column_name']}" + (
            f".{column['json_key']}" if column["json_key"] else ""
        )
        for row in conn.execute(ROWS_SQL, parameters).fetchall():
            found.append(PersonRow(*row, found_in=where))
    return found


def keyed_pseudonym(conn: psycopg.Connection, value: str) -> str:
    """The identifier as the models pseudonymise it (keyed, in the database): what the audit
    trail may hold of a person."""
    (pseudonym,) = conn.execute(
        "select privacy.pseudonymise(lower(regexp_replace(btrim(%s), '[[:space:]]+', ' ', 'g')))",
        (value,),
    ).fetchone()
    return pseudonym


def subject_access(settings: Settings, kind: str, value: str) -> list[PersonRow]:
    from flows.database import connection_info

    with connection_info(settings).connect() as conn:
        rows = find_person(conn, settings, kind, value)
        with conn.transaction():
            append_event(
                conn,
                "subject_access_report",
                settings.user,
                details={
                    "identifier_kind": kind,
                    "identifier_pseudonym": keyed_pseudonym(conn, value),
                    "rows": len(rows),
                    "files": len({row.file_id for row in rows}),
                },
            )
    return rows


def render(rows: list[PersonRow], kind: str) -> str:
    if not rows:
        return f"Rempart holds no landed row with this {kind}."
    files = {row.file_id for row in rows}
    lines = [f"Rempart holds {len(rows)} landed row(s) with this {kind}, in {len(files)} file(s):"]
    for row in rows:
        kept = f"kept until {row.kept_until:%Y-%m-%d}" if row.kept_until else "kept"
        sheet = f", sheet {row.sheet}" if row.sheet else ""
        lines.append(
            f"\n{row.file_name} (file {row.file_id}{sheet}, row {row.row_number}; found by "
            f"{row.found_in}; {kept}"
            + ("; an encrypted copy in the archive)" if row.archive_path else ")")
        )
        for header, cell in zip(row.headers, row.cells, strict=False):
            lines.append(f"  {header}: {cell if cell is not None else ''}")
    lines.append(
        "\nThe models read these rows pseudonymised (keyed pseudonyms, masked e-mails; names "
        "dropped); no mart holds a row per person."
    )
    return "\n".join(lines)
