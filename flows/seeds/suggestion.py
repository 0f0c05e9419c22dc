"""`rempart sources suggest FILE`: the seed lines that would declare the source of a file.

A file that no source kind claims lands in raw and waits there (marts.dq_unclassified_files).
Most KPI files are one of two shapes, which the generic parsing reads with no model of their
own (models/intermediate/kpis/int_generic_values_parsed.sql):

* long: a date, a KPI and a value per row (department, category, subcategory, unit optional);
* wide: a date per row (and dimensions), one column per KPI.

From the file's headers and landed cells this module writes what a person would: a
source_kinds line (its name pattern, date order, decimal separator, layout), the KPI
definitions of the KPIs it found, the KPI columns of a wide file. Nothing is guessed where a
guess could put a value under the wrong KPI or department: every KPI is a new one (a person
may map it to an existing one instead), unknown department spellings are listed, not mapped.
The lines are printed or appended to the seed files, for review in `git diff` before commit.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from flows.runtime.database import connection_info
from flows.runtime.settings import Settings
from flows.seeds.reader import read_seed, seed_path
from loaders.checksum import digest_file

SAMPLE_ROWS = 2000
MAX_KPIS = 200
AVERAGED = re.compile(r"\b(taux|rate|ratio|moyen\w*|average|avg|score|satisfaction|%)", re.I)
ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")
DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})")
COMMA_DECIMAL = re.compile(r"^[+-]?\d{1,3}(?:[ .\u00a0]?\d{3})*,\d+$|^[+-]?\d+,\d+$")
POINT_DECIMAL = re.compile(r"^[+-]?\d{1,3}(?:[ ,]?\d{3})*\.\d+$|^[+-]?\d+\.\d+$")
NUMBER = re.compile(r"^[+-]?[\d .,\u00a0]*\d[\d .,\u00a0]*%?$")


class SuggestionError(Exception):
    """The file cannot be described by seed lines (or cannot be found): say why."""


@dataclass
class LandedSheet:
    name: str
    headers: list[str]
    rows: list[list[str | None]]
    row_count: int


@dataclass
class Suggestion:
    source_kind: str
    layout: str
    lines: dict[str, list[list[str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        out = io.StringIO()
        for seed, rows in self.lines.items():
            if not rows:
                continue
            out.write(f"# seeds/{seed}.csv\n")
            csv.writer(out, lineterminator="\n").writerows(rows)
        for note in self.notes:
            out.write(f"# note: {note}\n")
        return out.getvalue()


def normalise_key(text: str | None) -> str:
    """As the models match headers and names (macros/parsing/normalise_text.sql)."""
    return re.sub(r"[\s\u00a0]+", " ", (text or "").strip()).lower()


def slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")


def landed_file(settings: Settings, name_or_path: str) -> tuple[int, str, list[LandedSheet]]:
    """The landed file by name (the newest of that name), or by the content of a local file."""
    path = Path(name_or_path)
    with connection_info(settings).connect() as conn:
        if path.is_file():
            with path.open("rb") as handle:
                sha256 = digest_file(handle).sha256
            row = conn.execute(
                "select file_id, file_name from raw.files where sha256 = %s and status = 'landed'",
                (sha256,),
            ).fetchone()
            if row is None:
                raise SuggestionError(
                    f"{path.name} has not landed: drop it in the inbox and run `rempart "
                    "ingest` (or `rempart run`) first; suggestions read what landed"
                )
        else:
            row = conn.execute(
                "select file_id, file_name from raw.files where file_name = %s "
                "and status = 'landed' order by file_id desc limit 1",
                (path.name,),
            ).fetchone()
            if row is None:
                raise SuggestionError(
                    f"no landed file is named {path.name} (see marts.dq_unclassified_files)"
                )
        file_id, file_name = int(row[0]), str(row[1])
        sheets = []
        for sheet, headers, count in conn.execute(
            "select sheet, headers, row_count from raw.sheets where file_id = %s order by sheet",
            (file_id,),
        ).fetchall():
            cells = conn.execute(
                "select cells from raw.records where file_id = %s and sheet = %s "
                "order by row_number limit %s",
                (file_id, sheet, SAMPLE_ROWS),
            ).fetchall()
            sheets.append(LandedSheet(sheet, list(headers), [c for (c,) in cells], int(count)))
    if not sheets:
        raise SuggestionError(f"{file_name} has no sheet with rows")
    return file_id, file_name, sheets


def distinct_cells(settings: Settings, file_id: int, sheet: str, position: int) -> list[str]:
    """Every distinct text of one column of a landed sheet, in order of first appearance."""
    with connection_info(settings).connect() as conn:
        rows = conn.execute(
            "select text from (select cells[%s] as text, min(row_number) as first "
            "from raw.records where file_id = %s and sheet = %s group by 1) as found "
            "where nullif(trim(text), '') is not null order by first limit %s",
            (position, file_id, sheet, MAX_KPIS + 1),
        ).fetchall()
    return [str(text) for (text,) in rows]


def date_order(values: list[str]) -> tuple[str, str | None]:
    """ymd, dmy or mdy from the date texts; a note when the texts cannot tell."""
    texts = [v.strip() for v in values if v and v.strip()]
    if texts and all(ISO_DATE.match(t) for t in texts):
        return "ymd", None
    firsts = [DAY_FIRST.match(t) for t in texts]
    matched = [m for m in firsts if m]
    if any(int(m.group(1)) > 12 for m in matched):
        return "dmy", None
    if any(int(m.group(2)) > 12 for m in matched):
        return "mdy", None
    if matched:
        return "dmy", "no day above 12 in the sample: dates read day first (dmy); check it"
    return "ymd", None


def decimal_separator(values: list[str]) -> str:
    texts = [v.strip() for v in values if v and v.strip()]
    commas = sum(bool(COMMA_DECIMAL.match(t)) for t in texts)
    points = sum(bool(POINT_DECIMAL.match(t)) for t in texts)
    return "," if commas > points else "."


def name_pattern(file_name: str) -> tuple[str, str]:
    """A source name and the pattern of its files: the name without its date or number."""
    stem, _, extension = file_name.rpartition(".")
    if not stem:
        stem, extension = file_name, ""
    prefix = re.sub(r"[\s_\-.]*\d[\d\s_\-.]*$", "", stem) or stem
    extensions = {"xlsx": "xlsx?", "xls": "xlsx?", "json": "jsonl?", "jsonl": "jsonl?"}
    suffix = extensions.get(extension.lower(), re.escape(extension.lower()))
    pattern = f"^{re.escape(prefix)}.*\\.{suffix}$" if extension else f"^{re.escape(prefix)}"
    return slug(prefix) or "new_source", pattern


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate


@dataclass
class SheetShape:
    """A sheet's columns: those the generic headers name, and the others."""

    sheet: LandedSheet
    columns: dict[str, int]  # generic column name -> position (from 1)
    others: list[tuple[int, str]]  # (position, header) of the rest

    @classmethod
    def of(cls, sheet: LandedSheet, generic: dict[str, str]) -> SheetShape:
        columns: dict[str, int] = {}
        others: list[tuple[int, str]] = []
        for position, header in enumerate(sheet.headers, start=1):
            column = generic.get(normalise_key(header))
            if column and column not in columns:
                columns[column] = position
            else:
                others.append((position, header))
        return cls(sheet, columns, others)

    def values(self, position: int) -> list[str]:
        return [row[position - 1] or "" for row in self.sheet.rows if len(row) >= position]

    def numeric_columns(self) -> list[tuple[int, str]]:
        """The other columns whose cells are (nearly all) numbers: a wide file's KPIs."""
        found = []
        for position, header in self.others:
            texts = [t.strip() for t in self.values(position) if t.strip()]
            if texts and sum(bool(NUMBER.match(t)) for t in texts) >= 0.9 * len(texts):
                found.append((position, header))
        return found


def suggest(settings: Settings, name_or_path: str, department: str | None = None) -> Suggestion:
    file_id, file_name, sheets = landed_file(settings, name_or_path)
    generic = {
        normalise_key(r["header"]): r["column_name"]
        for r in read_seed(settings.project_dir, "generic_header_aliases")
    }
    kinds = read_seed(settings.project_dir, "source_kinds")
    _check_new_source(settings, file_name, kinds, department)
    shape = SheetShape.of(max(sheets, key=lambda s: s.row_count), generic)
    if "measured_on" not in shape.columns:
        raise SuggestionError(
            f"{file_name}: no header names the date of the values (one of "
            f"{', '.join(sorted(h for h, c in generic.items() if c == 'measured_on'))}); "
            "a source of another shape needs a model of its own (README: a new file layout)"
        )
    if {"kpi_code", "value"} <= shape.columns.keys():
        layout, kpi_columns = "long", []
        value_texts = shape.values(shape.columns["value"])
    else:
        layout, kpi_columns = "wide", shape.numeric_columns()
        if not kpi_columns:
            raise SuggestionError(
                f"{file_name}: neither a KPI and a value column (long) nor numeric columns "
                "beside the date (wide); a source of another shape needs a model of its own"
            )
        value_texts = [t for position, _ in kpi_columns for t in shape.values(position)]
    kind_name, pattern = name_pattern(file_name)
    kind_name = _unique(kind_name, {k["source_kind"] for k in kinds})
    order, order_note = date_order(shape.values(shape.columns["measured_on"]))
    suggestion = Suggestion(kind_name, layout)
    suggestion.notes.extend([order_note] if order_note else [])
    suggestion.notes.extend(_department_notes(settings, file_id, shape, department))
    suggestion.lines["source_kinds"] = [
        [
            kind_name,
            pattern,
            order,
            decimal_separator(value_texts),
            "35",
            "365",
            "keep",
            layout,
            department or "",
            f"Declared from {file_name} by rempart sources suggest: review before committing",
        ]
    ]
    if layout == "long":
        names, units = _kpis_named_in_cells(settings, file_id, file_name, shape)
    else:
        names, units = {normalise_key(h): h.strip() for _, h in kpi_columns}, {}
    taken = {k["kpi_code"] for k in read_seed(settings.project_dir, "kpi_definitions")}
    definitions, columns = [], []
    for key, name in names.items():
        code = slug(name) or "kpi"
        if code in taken:  # another source's KPI: a new one, never a silent reuse
            code = _unique(f"{kind_name}_{code}", taken)
        taken.add(code)
        unit = units[key].most_common(1)[0][0] if key in units else ""
        definitions.append(
            [
                code,
                name,
                kind_name,
                unit,
                "higher_is_better",
                "avg" if AVERAGED.search(f"{name} {unit}") else "sum",
                "",
                "drop",
                f"{name}, from {file_name}: review unit, direction, aggregation and target",
            ]
        )
        if layout == "wide":
            columns.append([kind_name, key, code])
    suggestion.lines["kpi_definitions"] = definitions
    suggestion.lines["kpi_columns"] = columns
    ignored = [header for position, header in shape.others if (position, header) not in kpi_columns]
    if ignored:
        suggestion.notes.append(
            "columns no model reads (add a header_aliases line if one holds a date, KPI, "
            f"value, department, category, subcategory or unit): {', '.join(ignored)}"
        )
    return suggestion


def _check_new_source(
    settings: Settings, file_name: str, kinds: list[dict[str, str]], department: str | None
) -> None:
    departments = {r["department_slug"] for r in read_seed(settings.project_dir, "departments")}
    if department is not None and department not in departments:
        raise SuggestionError(
            f"no department {department!r} in seeds/departments.csv "
            f"(there are: {', '.join(sorted(departments))})"
        )
    for kind in kinds:
        if re.search(kind["file_name_pattern"], file_name, re.I):
            raise SuggestionError(
                f"{file_name} already matches source kind {kind['source_kind']} "
                f"({kind['file_name_pattern']}); `rempart run` reads it"
            )


def _department_notes(
    settings: Settings, file_id: int, shape: SheetShape, department: str | None
) -> list[str]:
    """What a person must add for the values to have a department: never guessed."""
    if "department" not in shape.columns:
        if department:
            return []
        return [
            "the file has no department column: give the source's department "
            "(--department) or every value is rejected as unknown_department"
        ]
    known = {r["alias"] for r in read_seed(settings.project_dir, "department_aliases")}
    texts = distinct_cells(settings, file_id, shape.sheet.name, shape.columns["department"])
    return [
        f"department {text!r} is not in seeds/department_aliases.csv: add "
        f"'{normalise_key(text)},<department_slug>' or its values are rejected"
        for text in texts
        if normalise_key(text) not in known
    ][:20]


def _kpis_named_in_cells(
    settings: Settings, file_id: int, file_name: str, shape: SheetShape
) -> tuple[dict[str, str], dict[str, Counter[str]]]:
    """A long file's KPIs (key -> name as written) and the units its rows give each."""
    position = shape.columns["kpi_code"]
    found = distinct_cells(settings, file_id, shape.sheet.name, position)
    if len(found) > MAX_KPIS:
        raise SuggestionError(
            f"{file_name}: more than {MAX_KPIS} different KPIs in column "
            f"{shape.sheet.headers[position - 1]!r}: is it really the KPI column?"
        )
    units: dict[str, Counter[str]] = {}
    if "unit" in shape.columns:
        for row in shape.sheet.rows:
            unit = (row[shape.columns["unit"] - 1] or "").strip()
            if unit:
                units.setdefault(normalise_key(row[position - 1]), Counter())[unit] += 1
    return {normalise_key(text): re.sub(r"\s+", " ", text.strip()) for text in found}, units


def write(settings: Settings, suggestion: Suggestion) -> list[Path]:
    """Append the suggested lines to the seed files; the files changed."""
    changed = []
    for seed, rows in suggestion.lines.items():
        if not rows:
            continue
        path = seed_path(settings.project_dir, seed)
        text = path.read_text(encoding="utf-8")
        out = io.StringIO()
        if text and not text.endswith("\n"):
            out.write("\n")
        csv.writer(out, lineterminator="\n").writerows(rows)
        with path.open("a", encoding="utf-8", newline="") as handle:
            handle.write(out.getvalue())
        changed.append(path)
    return changed
