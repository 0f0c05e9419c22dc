"""Finding one person in what Rempart holds, by an identifier the seeds declare.

`seeds/personal_data.csv` says which landed column of which source identifies a person
(`is_identifier`), and what it is (an e-mail, an employee ID); the dbt project says which
header of which sheet of which file is that column (`int_sheet_columns_mapped`, from the
header aliases). A person's rows are the landed rows whose cell there (for a JSON cell, its
declared key) has the identifier's keyed hash, the text normalised as the models normalise it
(trimmed, inner spaces collapsed, case ignored); and the rows that hold another identifier
found on those rows (the employee ID on the rows found by e-mail).

The keyed hash (`privacy.identifier_hash`) is an HMAC under the pseudonymisation key of a
message the models never hash, so it is not the pseudonym the models give the person and
cannot be matched to their pseudonymised rows. People are found by it, never by clear value:
the erasure register, which holds these hashes only, finds a person again after a restore
exactly as the erasure found them.

`rempart privacy report` (subject access) prints those rows: the person's own rows only,
never another's; and records in the audit trail that a report was made, with the keyed
hash of the identifier, never the identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from flows.runtime.database import connection_info
from flows.runtime.settings import Settings
from flows.seeds.reader import read_seed
from loaders.audit import append_event

# Every identifier cell of one declared column, with its keyed hash: the person's rows are
# then found, and their other identifiers too, by hash alone, so an erasure logged with hashes
# only can be applied again (after a restore) exactly like the first time.
IDENTIFIERS_SQL = """
insert into person_identifiers
select file_id, sheet, row_number, %(kind)s, privacy.identifier_hash(identifier), %(where)s
from (
    select records.file_id, records.sheet, records.row_number,
           case
               when %(json_key)s::text is null then records.cells[mapped.column_position]
               when pg_input_is_valid(records.cells[mapped.column_position], 'jsonb')
                   then records.cells[mapped.column_position]::jsonb ->> %(json_key)s::text
           end as identifier
    from intermediate.int_sheet_columns_mapped as mapped
    join raw.records as records
        on records.file_id = mapped.file_id and records.sheet = mapped.sheet_name
    join raw.files as files on files.file_id = mapped.file_id
    where mapped.source_kind = %(source_kind)s
      and mapped.column_name = %(column_name)s
      and files.expired_at is null
) as cells
where privacy.identifier_hash(identifier) is not null
"""

ROWS_SQL = """
select files.file_id, files.file_name, records.sheet, records.row_number, sheets.headers,
       records.cells, files.archive_path, retention.kept_until,
       (select string_agg(distinct found.found_in, ', ')
        from person_identifiers as found
        where (found.identifier_kind, found.identifier_hash) in (
                  select * from unnest(%(kinds)s::text[], %(hashes)s::text[])
              )
          and (found.file_id, found.sheet, found.row_number)
              = (records.file_id, records.sheet, records.row_number)) as found_in
from raw.records as records
join raw.sheets as sheets on sheets.file_id = records.file_id and sheets.sheet = records.sheet
join raw.files as files on files.file_id = records.file_id
left join marts.dq_file_retention as retention on retention.file_id = records.file_id
where (records.file_id, records.sheet, records.row_number) in (
    select file_id, sheet, row_number from person_identifiers
    where (identifier_kind, identifier_hash) in (
        select * from unnest(%(kinds)s::text[], %(hashes)s::text[])
    )
)
order by files.file_id, records.sheet, records.row_number
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
    found_in: str  # source kind and column (and JSON key) of the identifier that matched


@dataclass
class Person:
    """A person as Rempart knows them: the keyed hashes of their identifiers (every
    identifier their rows hold, not only the one asked for) and their landed rows."""

    hashes: set[tuple[str, str]]  # (identifier kind, keyed hash)
    rows: list[PersonRow]


def declared_identifiers(settings: Settings) -> list[dict[str, str]]:
    return [
        row
        for row in read_seed(settings.project_dir, "personal_data")
        if row["is_identifier"] == "true"
    ]


def check_identifier_kind(settings: Settings, kind: str) -> None:
    kinds = sorted({row["personal_data"] for row in declared_identifiers(settings)})
    if kind not in kinds:
        raise SubjectError(
            f"{kind} identifies no one in seeds/personal_data.csv; identifiers: {', '.join(kinds)}"
        )


def _index_identifiers(conn: psycopg.Connection, settings: Settings) -> None:
    """A temporary table of every identifier cell landed, as keyed hashes (this session's)."""
    if (
        conn.execute("select to_regclass('intermediate.int_sheet_columns_mapped')").fetchone()[0]
        is None
    ):
        raise SubjectError("the dbt project has not been built here yet: `rempart run` first")
    conn.execute(
        "create temporary table if not exists person_identifiers (file_id bigint, sheet text, "
        "row_number integer, identifier_kind text, identifier_hash text, found_in text)"
    )
    conn.execute("truncate person_identifiers")
    for column in declared_identifiers(settings):
        where = f"{column['source_kind']}.{column['column_name']}" + (
            f".{column['json_key']}" if column["json_key"] else ""
        )
        conn.execute(
            IDENTIFIERS_SQL,
            {
                "kind": column["personal_data"],
                "where": where,
                "source_kind": column["source_kind"],
                "column_name": column["column_name"],
                "json_key": column["json_key"] or None,
            },
        )
    conn.execute("analyze person_identifiers")


def _closure(conn: psycopg.Connection, hashes: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The hashes given, and every other identifier found on the same rows, until no row
    adds one: a person erased by e-mail is also recognised by their employee ID."""
    while True:
        kinds, values = zip(*sorted(hashes), strict=True) if hashes else ((), ())
        found = {
            (kind, identifier_hash)
            for kind, identifier_hash in conn.execute(
                "select distinct identifier_kind, identifier_hash from person_identifiers "
                "where (file_id, sheet, row_number) in ("
                "    select file_id, sheet, row_number from person_identifiers "
                "    where (identifier_kind, identifier_hash) in "
                "        (select * from unnest(%s::text[], %s::text[])))",
                (list(kinds), list(values)),
            ).fetchall()
        }
        if found <= hashes:
            return hashes
        hashes = hashes | found


def find_person(
    conn: psycopg.Connection, settings: Settings, hashes: set[tuple[str, str]]
) -> Person:
    """Every landed row holding one of these identifiers, or another identifier of theirs."""
    _index_identifiers(conn, settings)
    hashes = _closure(conn, set(hashes))
    kinds, values = zip(*sorted(hashes), strict=True) if hashes else ((), ())
    rows = conn.execute(ROWS_SQL, {"kinds": list(kinds), "hashes": list(values)}).fetchall()
    return Person(hashes, [PersonRow(*row) for row in rows])


def keyed_hash(conn: psycopg.Connection, value: str) -> str:
    """The identifier as the models pseudonymise it (keyed, in the database): what the audit
    trail and the erasure register may hold of a person."""
    (identifier_hash,) = conn.execute("select privacy.identifier_hash(%s)", (value,)).fetchone()
    if identifier_hash is None:
        raise SubjectError("the identifier is blank")
    return identifier_hash


def subject_access(settings: Settings, kind: str, value: str) -> list[PersonRow]:
    with connection_info(settings).connect() as conn:
        check_identifier_kind(settings, kind)
        identifier_hash = keyed_hash(conn, value)
        rows = find_person(conn, settings, {(kind, identifier_hash)}).rows
        with conn.transaction():
            append_event(
                conn,
                "subject_access_report",
                settings.user,
                details={
                    "identifier_kind": kind,
                    "identifier_hash": identifier_hash,
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
