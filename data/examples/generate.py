"""Deterministic generator of Rempart's demo files: realistic, and messy on purpose.

Run it with the project's environment::

    .venv/bin/python data/examples/generate.py [--out DIR] [--rejects DIR] [--seed N]

It writes the source files to ``data/examples/files/`` and the deliberately broken files to
``data/examples/rejects/`` (both are committed). The same seed gives byte-identical files on
every run and machine: one ``random.Random`` per source, seeded from a string; no clock, locale,
hash order or zlib output is involved (the workbook is re-zipped *stored*, with fixed entry
dates). Only the standard library and openpyxl are used. Names, e-mails and companies are
made up; e-mail domains end in ``.example`` (RFC 2606).

The data covers 2026-09-01 .. 2026-10-31, for three departments, the org units row-level
security later splits on: ``sales``, ``support``, ``operations``. No source spells them the same
way; ``DEPARTMENT_SPELLINGS`` below lists every spelling used, which the dbt seed must map:

* sales: ``Ventes``, ``ventes `` (trailing space), ``VENTES``, ``Sales``
* support: ``Support client``, ``support``, ``Support``
* operations: ``Opérations``, ``Operations``, ``ops``

Over 450 lines: one short function per demo file, each with its source's own mess, and this
one list of every defect they hold; split, the list would no longer sit beside its makers.

Every defect below is placed by a fixed key (date, department, sub-category, KPI; employee and
week; ticket id), so it does not depend on the seed; only values, names and spellings do.

1. Sales, French CSV: ``sales_fr_2026-09.csv``, ``sales_fr_2026-10.csv``
   ------------------------------------------------------------------------
   Windows-1252 (not UTF-8: "Opérations", "Épicerie", "Café", "Crèmerie", "Île-de-France",
   "€", no-break spaces), ``;``-delimited, CRLF line endings. Header::

       date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité;commentaire

   One row per day, product line and KPI. ``département`` is the team whose channel made the
   sale: ``sales`` (shops and web) reports all four KPIs for the six sub-categories; ``support``
   reports ``chiffre_affaires`` and ``unites_vendues`` of phone orders (Boissons: Café, Jus de
   fruits); ``operations`` the same two KPIs for B2B orders (Frais: Crèmerie, Fruits & légumes).
   Categories and sub-categories: Boissons (Café, Jus de fruits), Épicerie (Pâtes & riz,
   Conserves), Frais (Crèmerie, Fruits & légumes).

   KPIs (``indicateur`` -> ``unité``): ``chiffre_affaires`` -> ``EUR``, ``unites_vendues`` ->
   ``unités`` (a count), ``panier_moyen`` -> ``EUR``, ``taux_conversion`` -> ``%`` (3,45 means
   3.45 %, never a fraction). ``date_mesure`` is ``dd/mm/yyyy``. ``valeur`` is French: decimal
   comma, thousands grouped by a space, a no-break space (0xA0) or nothing ("1 234,56",
   "1234,56"), sometimes followed by "€", " €", "%" or " %". ``commentaire`` is mostly empty.
   Not defects but traps: a row's ``département`` spelling is random, so the same key may be
   spelt differently in the two files; three comments are quoted fields holding a ``;``, a
   bare LF line break (inside a CRLF file) and, once, a doubled quote ``""``:

   * 2026-09-04 sales Conserves chiffre_affaires; 2026-09-19 sales Café unites_vendues;
     2026-10-16 operations Crèmerie chiffre_affaires.

   Deliberate defects (key = date, department, sous_catégorie, indicateur):

   * exact duplicate rows (every byte equal), to drop: in September 2026-09-08 sales Café
     chiffre_affaires and 2026-09-15 operations Crèmerie unites_vendues (each repeated on the
     next line), 2026-09-22 sales Pâtes & riz taux_conversion (repeated as the file's last
     row); in October 2026-10-27 sales Fruits & légumes chiffre_affaires (next line).
   * empty ``valeur``: 2026-09-09 sales Jus de fruits unites_vendues, 2026-09-17 operations
     Fruits & légumes chiffre_affaires, 2026-10-06 sales Conserves unites_vendues.
   * unparseable ``valeur``: ``n/a`` (2026-09-24 sales Crèmerie panier_moyen), ``—`` (an em
     dash, 0x97; 2026-10-14 sales Café taux_conversion), ``12,5,3`` (2026-10-21 support Jus de
     fruits chiffre_affaires).
   * impossible date ``31/09/2026``: one extra September row, sales Crèmerie chiffre_affaires,
     right after the 30/09 rows (to reject, not to guess).
   * overlap: the October file opens with 18 rows dated 28/09 .. 30/09 (sales, the six
     sub-categories, ``chiffre_affaires``) restating the September figures 1-5 % lower,
     commented "Rectificatif : retours clients déduits". The later file wins.

2. HR headcount workbook: ``hr_headcount_2026-q3.xlsx``
   ----------------------------------------------------
   Sheets "Septembre 2026", "Octobre 2026" and "Notes" (empty: no cell at all; the name says
   q3 although October is in q4, as real exports do). Header on row 1::

       Date | Department | Employee ID | Employee name | Email | FTE | Absence days | Contract

   One row per employee per week, dated on the Monday (07/14/21/28 Sept, 05/12/19/26 Oct),
   ordered by date, department, employee. 20 employees: EMP-1001..1008 sales, EMP-1009..1014
   support, EMP-1015..1020 operations. EMP-1007 (CDD) leaves after the week of 2026-09-21,
   EMP-1014 joins on 2026-10-12, EMP-1019 and EMP-1020 (Intérim) work in October only.
   ``Employee name`` ("Prénom Nom") and ``Email`` (prenom.nom@rempart-demo.example, accents
   dropped) are PII. ``FTE`` is a number (1, 0.8, 0.5); ``Absence days`` a number (0 .. 5, half
   days allowed); ``Contract`` is ``CDI``, ``CDD``, ``Intérim`` or ``cdi `` (lower case,
   trailing space). Dates are real date cells (format dd/mm/yyyy) in September, but text
   ``2026-10-05`` in October.

   Deliberate defects:

   * September, 2026-09-14 EMP-1005: the date is the serial number 46279, a plain number.
   * September, 2026-09-21 EMP-1002: the employee-week row appears twice (next row).
   * September, 2026-09-28 EMP-1012: ``Absence days`` blank.
   * October, header cell G1 (``Absence days``) blank: the column has data but no name.
   * October, 2026-10-05 EMP-1017: ``Contract`` blank.
   * October, 2026-10-12 EMP-1014: ``Absence days`` blank.
   * October, 2026-10-19 EMP-1001: ``FTE`` is the text ``1,0``.
   * October, 2026-10-26 EMP-1009: ``Email`` blank.

3. Support tickets: ``support_tickets_2026-09.json``, ``support_tickets_2026-10.jsonl``
   ---------------------------------------------------------------------------------
   UTF-8. September is one object ``{"export": {...}, "tickets": [...]}`` (indented); October
   is JSON Lines, one ticket per line. Both are helpdesk exports: September's was taken at
   2026-10-01T00:00+02:00, October's at 2026-11-01T00:00+01:00. Keys, in order::

       ticket_id, opened_at, closed_at, status, team, priority, channel,
       customer {name, email, company}, satisfaction, tags, first_response_minutes

   ``ticket_id`` is ``T-000101`` .. in opening order (a fixed number per day, so ids do not
   depend on the seed). Timestamps are ISO 8601 with a zone: ``Z`` (a few with milliseconds)
   or the Paris offset, ``+02:00`` until 2026-10-25 and ``+01:00`` after. ``status`` is
   ``closed`` (``closed_at`` set) or ``open``/``pending`` (``closed_at`` null). ``team`` is a
   department spelling (about 70 % support). ``priority`` is P1..P4, lower case (``p3``) when
   the id number is a multiple of 11. ``customer`` is PII. ``satisfaction`` (1..5) only for
   closed tickets: null when the id number is a multiple of 7, key missing entirely when it
   is a multiple of 5 (and on every open ticket). ``tags`` is a possibly empty array.
   ``first_response_minutes`` is a number, but a string ("45") when the id number is a
   multiple of 13. Tickets whose id number is a multiple of 37 are never closed.

   Deliberate defects:

   * overlap: every September ticket still open at the September export (20 with the
     default seed) appears again, first, in October with its state at the October export
     (usually ``closed``, with ``closed_at`` and maybe ``satisfaction``). Last write wins.
   * duplicates within a file: T-000120 and T-000175 twice in September (T-000120 on the
     next record, T-000175 as the last record), T-000300 twice in October (next line). The
     September ``export.ticket_count`` counts distinct tickets, so it is 2 less than the
     array's length.
   * T-000290 (October) has ``opened_at`` ``2026-13-01T10:00:00Z``, an impossible month.

Rejects: ``data/examples/rejects/`` (the loader must refuse each, with a reason)
--------------------------------------------------------------------------------
* ``empty.csv``: 0 bytes.
* ``header_only.csv``: the sales header line (cp1252, CRLF) and no data row.
* ``ragged.csv``: UTF-8, comma-delimited, 4 columns; data row 2 (line 3) has a 5th field.
* ``fake.xlsx``: plain text named .xlsx (not a zip archive).
* ``duplicate_headers.csv``: UTF-8, comma-delimited, the header ``value`` appears twice.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.functions import tostring

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "files"
DEFAULT_REJECTS = HERE / "rejects"
DEFAULT_SEED = 20260901

FIRST_DAY = date(2026, 9, 1)
LAST_DAY = date(2026, 10, 31)

SALES = "sales"
SUPPORT = "support"
OPERATIONS = "operations"
DEPARTMENTS = (SALES, SUPPORT, OPERATIONS)

# Every spelling of every department, across all sources: what the dbt seed has to map.
DEPARTMENT_SPELLINGS: dict[str, tuple[str, ...]] = {
    SALES: ("Ventes", "ventes ", "VENTES", "Sales"),
    SUPPORT: ("Support client", "support", "Support"),
    OPERATIONS: ("Opérations", "Operations", "ops"),
}

Weighted = tuple[tuple[str, int], ...]


def pick(rng: random.Random, choices: Weighted) -> str:
    """One of `choices`, by weight."""
    values = [value for value, _ in choices]
    weights = [weight for _, weight in choices]
    return rng.choices(values, weights=weights)[0]


def new_rng(seed: int, stream: str) -> random.Random:
    """An independent, reproducible stream per source (string seeds hash with SHA-512)."""
    return random.Random(f"{seed}:{stream}")  # noqa: S311 - demo data, not cryptography


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def ascii_slug(text: str) -> str:
    """'Hélène' -> 'helene', 'Jean-Baptiste' -> 'jean-baptiste' (for e-mail addresses)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return stripped.lower().replace(" ", "-").replace("'", "")


FIRST_NAMES = (
    "Camille", "Lucas", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Gabriel", "Inès", "Arthur",
    "Jade", "Raphaël", "Zoé", "Jules", "Élodie", "Mathis", "Sarah", "Théo", "Clémence", "Nathan",
    "Hélène", "Jean-Baptiste", "Anaïs", "Benoît", "Margaux", "Maël", "Océane", "Noé", "Lise",
    "Timothée", "Aurélie", "Baptiste", "Gaëlle", "Yann", "Solène", "Loïc",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet",
    "François", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry",
    "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Chevalier", "Lemaître", "Le Gall",
)  # fmt: skip


def unique_names(rng: random.Random, count: int, taken: set[str]) -> list[tuple[str, str]]:
    """`count` made-up (first, last) pairs, none already in `taken` (which grows)."""
    names: list[tuple[str, str]] = []
    while len(names) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if f"{first} {last}" not in taken:
            taken.add(f"{first} {last}")
            names.append((first, last))
    return names


# -- 1. Sales, French CSV ------------------------------------------------------------------

SALES_HEADER = (
    "date_mesure",
    "département",
    "catégorie",
    "sous_catégorie",
    "indicateur",
    "valeur",
    "unité",
    "commentaire",
)
KPI_UNITS: dict[str, str] = {
    "chiffre_affaires": "EUR",
    "unites_vendues": "unités",
    "panier_moyen": "EUR",
    "taux_conversion": "%",
}
ALL_KPIS = tuple(KPI_UNITS)
VOLUME_KPIS = ("chiffre_affaires", "unites_vendues")
# Monday .. Sunday: Saturday is the busy day, Sunday mornings only.
WEEKDAY_FACTOR = (0.92, 0.95, 1.0, 1.04, 1.18, 1.45, 0.52)

SALES_SPELLING_WEIGHTS: dict[str, Weighted] = {
    SALES: (("Ventes", 6), ("ventes ", 2), ("VENTES", 1), ("Sales", 1)),
    SUPPORT: (("Support client", 3), ("support", 1)),
    OPERATIONS: (("Opérations", 3), ("Operations", 1), ("ops", 1)),
}
THOUSANDS_SEPARATORS: Weighted = ((" ", 5), ("\u00a0", 3), ("", 2))
SUFFIXES: dict[str, Weighted] = {
    "chiffre_affaires": (("", 6), (" €", 3), ("€", 1)),
    "unites_vendues": (("", 1),),
    "panier_moyen": (("", 5), (" €", 3), ("€", 2)),
    "taux_conversion": (("", 4), (" %", 4), ("%", 2)),
}
EVERYDAY_COMMENTS = (
    "Promo rentrée",
    "Rupture de stock fournisseur",
    "Livraison retardée Île-de-France",
    "Animation magasin",
    "Météo défavorable",
    "Caisse 3 en panne l'après-midi",
)


@dataclass(frozen=True)
class SalesLine:
    """A product line a department reports on, with its typical daily figures."""

    department: str
    category: str
    subcategory: str
    kpis: tuple[str, ...]
    daily_units: int
    unit_price: float
    basket: float
    conversion: float


SALES_LINES = (
    SalesLine(SALES, "Boissons", "Café", ALL_KPIS, 1150, 6.40, 24.0, 3.1),
    SalesLine(SALES, "Boissons", "Jus de fruits", ALL_KPIS, 900, 3.10, 22.5, 2.8),
    SalesLine(SALES, "Épicerie", "Pâtes & riz", ALL_KPIS, 1400, 2.05, 31.0, 2.4),
    SalesLine(SALES, "Épicerie", "Conserves", ALL_KPIS, 760, 2.75, 29.5, 2.1),
    SalesLine(SALES, "Frais", "Crèmerie", ALL_KPIS, 1900, 2.35, 38.0, 4.2),
    SalesLine(SALES, "Frais", "Fruits & légumes", ALL_KPIS, 2500, 1.85, 41.0, 4.6),
    SalesLine(SUPPORT, "Boissons", "Café", VOLUME_KPIS, 45, 6.40, 0.0, 0.0),
    SalesLine(SUPPORT, "Boissons", "Jus de fruits", VOLUME_KPIS, 30, 3.10, 0.0, 0.0),
    SalesLine(OPERATIONS, "Frais", "Crèmerie", VOLUME_KPIS, 600, 1.95, 0.0, 0.0),
    SalesLine(OPERATIONS, "Frais", "Fruits & légumes", VOLUME_KPIS, 850, 1.60, 0.0, 0.0),
)

SalesKey = tuple[date, str, str, str]  # day, department, sous_catégorie, indicateur


@dataclass(frozen=True)
class Measure:
    day: date
    line: SalesLine
    kpi: str
    value: float

    @property
    def key(self) -> SalesKey:
        return (self.day, self.line.department, self.line.subcategory, self.kpi)


# Deliberate defects and traps, by key (see the module docstring).
SALES_BAD_VALUES: dict[SalesKey, str] = {
    (date(2026, 9, 9), SALES, "Jus de fruits", "unites_vendues"): "",
    (date(2026, 9, 17), OPERATIONS, "Fruits & légumes", "chiffre_affaires"): "",
    (date(2026, 9, 24), SALES, "Crèmerie", "panier_moyen"): "n/a",
    (date(2026, 10, 6), SALES, "Conserves", "unites_vendues"): "",
    (date(2026, 10, 14), SALES, "Café", "taux_conversion"): "\u2014",
    (date(2026, 10, 21), SUPPORT, "Jus de fruits", "chiffre_affaires"): "12,5,3",
}
SALES_DUPLICATED_NEXT_LINE: tuple[SalesKey, ...] = (
    (date(2026, 9, 8), SALES, "Café", "chiffre_affaires"),
    (date(2026, 9, 15), OPERATIONS, "Crèmerie", "unites_vendues"),
    (date(2026, 10, 27), SALES, "Fruits & légumes", "chiffre_affaires"),
)
SALES_DUPLICATED_AT_END: SalesKey = (date(2026, 9, 22), SALES, "Pâtes & riz", "taux_conversion")
SALES_MULTILINE_COMMENTS: dict[SalesKey, str] = {
    (date(2026, 9, 4), SALES, "Conserves", "chiffre_affaires"): (
        "Inventaire tournant; écart de stock\ncorrigé le 05/09"
    ),
    (date(2026, 9, 19), SALES, "Café", "unites_vendues"): (
        'Client "grand compte"; commande groupée\nlivrée en deux fois'
    ),
    (date(2026, 10, 16), OPERATIONS, "Crèmerie", "chiffre_affaires"): (
        "Facturation B2B; avoir en attente\nvoir la comptabilité"
    ),
}
SALES_FIXED_COMMENTS: dict[SalesKey, str] = {
    (date(2026, 9, 12), SALES, "Café", "chiffre_affaires"): "Opération spéciale Île-de-France",
}
IMPOSSIBLE_DATE = "31/09/2026"
IMPOSSIBLE_DATE_LINE = SALES_LINES[4]  # sales, Frais, Crèmerie
RESTATED_DAYS = (date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30))
RESTATEMENT_COMMENT = "Rectificatif : retours clients déduits"


def french_number(value: float, decimals: int, thousands: str) -> str:
    """1234.5 -> '1 234,50' (the separator given), whatever the machine's locale."""
    grouped = f"{value:,.{decimals}f}"
    return grouped.replace(",", "\x00").replace(".", ",").replace("\x00", thousands)


def sales_measures(seed: int) -> list[Measure]:
    """True daily figures for every line and KPI, 2026-09-01 .. 2026-10-31."""
    rng = new_rng(seed, "sales:values")
    measures: list[Measure] = []
    for day in days(FIRST_DAY, LAST_DAY):
        factor = WEEKDAY_FACTOR[day.weekday()] * (1.03 if day.month == 10 else 1.0)
        for line in SALES_LINES:
            units = round(line.daily_units * factor * rng.uniform(0.88, 1.12))
            values = {
                "chiffre_affaires": round(units * line.unit_price * rng.uniform(0.97, 1.03), 2),
                "unites_vendues": float(units),
                "panier_moyen": round(line.basket * rng.uniform(0.92, 1.08), 2),
                "taux_conversion": round(
                    line.conversion * factor**0.5 * rng.uniform(0.85, 1.15), 2
                ),
            }
            measures.extend(Measure(day, line, kpi, values[kpi]) for kpi in line.kpis)
    return measures


class SalesRenderer:
    """Turns measures into CSV rows, with the messy formatting a French export has."""

    def __init__(self, seed: int) -> None:
        self.rng = new_rng(seed, "sales:render")

    def value_text(self, kpi: str, value: float) -> str:
        if kpi == "unites_vendues":
            return french_number(value, 0, pick(self.rng, THOUSANDS_SEPARATORS))
        thousands = pick(self.rng, THOUSANDS_SEPARATORS) if kpi == "chiffre_affaires" else ""
        return french_number(value, 2, thousands) + pick(self.rng, SUFFIXES[kpi])

    def comment(self, key: SalesKey) -> str:
        if key in SALES_MULTILINE_COMMENTS:
            return SALES_MULTILINE_COMMENTS[key]
        if key in SALES_FIXED_COMMENTS:
            return SALES_FIXED_COMMENTS[key]
        if self.rng.random() < 0.025:
            return self.rng.choice(EVERYDAY_COMMENTS)
        return ""

    def row(
        self, measure: Measure, date_text: str | None = None, comment: str | None = None
    ) -> list[str]:
        line = measure.line
        value = self.value_text(measure.kpi, measure.value)
        return [
            date_text or measure.day.strftime("%d/%m/%Y"),
            pick(self.rng, SALES_SPELLING_WEIGHTS[line.department]),
            line.category,
            line.subcategory,
            measure.kpi,
            SALES_BAD_VALUES.get(measure.key, value),
            KPI_UNITS[measure.kpi],
            self.comment(measure.key) if comment is None else comment,
        ]


def write_csv(rows: Sequence[Sequence[str]]) -> bytes:
    """`;`-delimited, CRLF, minimal quoting, Windows-1252 (fails loudly on any other char)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(SALES_HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("cp1252")


def build_sales(seed: int) -> dict[str, bytes]:
    measures = sales_measures(seed)
    by_key = {measure.key: measure for measure in measures}
    render = SalesRenderer(seed)
    rng = new_rng(seed, "sales:restatements")
    used: set[SalesKey] = set()
    files: dict[str, bytes] = {}
    for month in (9, 10):
        rows: list[list[str]] = []
        if month == 10:
            for day in RESTATED_DAYS:
                for line in SALES_LINES[:6]:
                    original = by_key[(day, SALES, line.subcategory, "chiffre_affaires")]
                    corrected = round(original.value * (1 - rng.uniform(0.01, 0.05)), 2)
                    restated = Measure(day, line, original.kpi, corrected)
                    rows.append(render.row(restated, comment=RESTATEMENT_COMMENT))
        last_rows: dict[SalesKey, list[str]] = {}
        for measure in (m for m in measures if m.day.month == month):
            row = render.row(measure)
            rows.append(row)
            last_rows[measure.key] = row
            if measure.key in SALES_DUPLICATED_NEXT_LINE:
                rows.append(list(row))
                used.add(measure.key)
        if month == 9:
            line = IMPOSSIBLE_DATE_LINE
            nearest = by_key[
                (date(2026, 9, 30), line.department, line.subcategory, "chiffre_affaires")
            ]
            typed = round(nearest.value * (1 + rng.uniform(-0.2, 0.2)), 2)
            typo = Measure(nearest.day, line, nearest.kpi, typed)
            rows.append(render.row(typo, date_text=IMPOSSIBLE_DATE, comment=""))
            rows.append(list(last_rows[SALES_DUPLICATED_AT_END]))
            used.add(SALES_DUPLICATED_AT_END)
        files[f"sales_fr_2026-{month:02d}.csv"] = write_csv(rows)
    expected = {*SALES_DUPLICATED_NEXT_LINE, SALES_DUPLICATED_AT_END}
    placed = {*SALES_BAD_VALUES, *SALES_MULTILINE_COMMENTS, *SALES_FIXED_COMMENTS}
    if used != expected or not placed <= by_key.keys():
        raise AssertionError("a sales defect names a key that does not exist")
    return files


# -- 2. HR headcount workbook ---------------------------------------------------------------

HR_FILE = "hr_headcount_2026-q3.xlsx"
HR_HEADER = (
    "Date",
    "Department",
    "Employee ID",
    "Employee name",
    "Email",
    "FTE",
    "Absence days",
    "Contract",
)
HR_SHEETS = {9: "Septembre 2026", 10: "Octobre 2026"}
NOTES_SHEET = "Notes"
EMAIL_DOMAIN = "rempart-demo.example"
HR_SPELLING_WEIGHTS: dict[str, Weighted] = {
    SALES: (("Sales", 3), ("Ventes", 2), ("VENTES", 1)),
    SUPPORT: (("Support client", 2), ("support", 1)),
    OPERATIONS: (("Operations", 2), ("Opérations", 2), ("ops", 1)),
}
ABSENCES: Weighted = (("0", 30), ("0.5", 3), ("1", 4), ("2", 2), ("3", 1), ("5", 1))
EXCEL_EPOCH = date(1899, 12, 30)
# A fixed moment for the workbook's metadata and every zip entry: no clock is read.
WORKBOOK_TIMESTAMP = datetime(2026, 11, 2, 9, 0, 0)
ZIP_TIMESTAMP = (2026, 11, 2, 9, 0, 0)

# (department, FTE, contract, first Monday, last Monday) for EMP-1001 .. EMP-1020.
EMPLOYEE_PLAN: tuple[tuple[str, float, str, date | None, date | None], ...] = (
    (SALES, 1.0, "CDI", None, None),
    (SALES, 1.0, "CDI", None, None),
    (SALES, 0.8, "CDI", None, None),
    (SALES, 1.0, "CDI", None, None),
    (SALES, 1.0, "CDD", None, None),
    (SALES, 0.5, "CDI", None, None),
    (SALES, 1.0, "CDD", None, date(2026, 9, 21)),
    (SALES, 1.0, "CDI", None, None),
    (SUPPORT, 1.0, "CDI", None, None),
    (SUPPORT, 0.8, "CDI", None, None),
    (SUPPORT, 1.0, "CDD", None, None),
    (SUPPORT, 1.0, "CDI", None, None),
    (SUPPORT, 0.5, "CDI", None, None),
    (SUPPORT, 1.0, "CDI", date(2026, 10, 12), None),
    (OPERATIONS, 1.0, "CDI", None, None),
    (OPERATIONS, 1.0, "CDI", None, None),
    (OPERATIONS, 0.8, "CDD", None, None),
    (OPERATIONS, 1.0, "CDI", None, None),
    (OPERATIONS, 1.0, "Intérim", date(2026, 10, 5), None),
    (OPERATIONS, 1.0, "Intérim", date(2026, 10, 5), None),
)

HrKey = tuple[date, str]  # Monday, employee id
HR_SERIAL_DATE: HrKey = (date(2026, 9, 14), "EMP-1005")
HR_DUPLICATED: HrKey = (date(2026, 9, 21), "EMP-1002")
HR_BLANKS: dict[HrKey, str] = {
    (date(2026, 9, 28), "EMP-1012"): "Absence days",
    (date(2026, 10, 5), "EMP-1017"): "Contract",
    (date(2026, 10, 12), "EMP-1014"): "Absence days",
    (date(2026, 10, 26), "EMP-1009"): "Email",
}
HR_FTE_AS_TEXT: HrKey = (date(2026, 10, 19), "EMP-1001")
HR_BLANK_HEADER = {10: "Absence days"}


@dataclass(frozen=True)
class Employee:
    employee_id: str
    name: str
    email: str
    department: str
    fte: float
    contract: str
    first_monday: date | None
    last_monday: date | None

    def works(self, monday: date) -> bool:
        after_start = self.first_monday is None or monday >= self.first_monday
        before_end = self.last_monday is None or monday <= self.last_monday
        return after_start and before_end


def employees(rng: random.Random) -> list[Employee]:
    names = unique_names(rng, len(EMPLOYEE_PLAN), set())
    staff: list[Employee] = []
    for number, ((first, last), plan) in enumerate(zip(names, EMPLOYEE_PLAN, strict=True)):
        department, fte, contract, first_monday, last_monday = plan
        email = f"{ascii_slug(first)}.{ascii_slug(last)}@{EMAIL_DOMAIN}"
        staff.append(
            Employee(
                f"EMP-{1001 + number}",
                f"{first} {last}",
                email,
                department,
                fte,
                contract,
                first_monday,
                last_monday,
            )
        )
    return staff


def mondays(month: int) -> list[date]:
    return [d for d in days(FIRST_DAY, LAST_DAY) if d.month == month and d.weekday() == 0]


def cell_number(value: float) -> int | float:
    """1.0 -> 1 (an integer cell, as someone typing '1' gets), 0.8 stays 0.8."""
    return int(value) if value.is_integer() else value


def hr_rows(rng: random.Random, staff: list[Employee], month: int) -> list[list[object]]:
    """The data rows of one month's sheet; None means a blank cell."""
    rows: list[list[object]] = []
    order = {department: index for index, department in enumerate(DEPARTMENTS)}
    ranked = sorted(staff, key=lambda e: (order[e.department], e.employee_id))
    used: set[HrKey] = set()
    for monday in mondays(month):
        for employee in (e for e in ranked if e.works(monday)):
            key = (monday, employee.employee_id)
            contract = employee.contract
            if contract == "CDI" and rng.random() < 0.15:
                contract = "cdi "
            cells: dict[str, object] = {
                "Date": monday if month == 9 else monday.isoformat(),
                "Department": pick(rng, HR_SPELLING_WEIGHTS[employee.department]),
                "Employee ID": employee.employee_id,
                "Employee name": employee.name,
                "Email": employee.email,
                "FTE": cell_number(employee.fte),
                "Absence days": cell_number(float(pick(rng, ABSENCES))),
                "Contract": contract,
            }
            if key == HR_SERIAL_DATE:
                cells["Date"] = (monday - EXCEL_EPOCH).days
                used.add(key)
            if key == HR_FTE_AS_TEXT:
                cells["FTE"] = "1,0"
                used.add(key)
            if key in HR_BLANKS:
                cells[HR_BLANKS[key]] = None
                used.add(key)
            row = [cells[header] for header in HR_HEADER]
            rows.append(row)
            if key == HR_DUPLICATED:
                rows.append(list(row))
                used.add(key)
    defects = {HR_SERIAL_DATE, HR_FTE_AS_TEXT, HR_DUPLICATED, *HR_BLANKS}
    if any(key[0].month == month for key in defects - used):
        raise AssertionError("an HR defect names an employee-week that does not exist")
    return rows


def fill_sheet(sheet: Worksheet, header: Sequence[str | None], rows: list[list[object]]) -> None:
    """Write only the cells that hold a value: a blank stays absent, as in a real file."""
    for row_index, values in enumerate([list(header), *rows], start=1):
        for column_index, value in enumerate(values, start=1):
            if value is None:
                continue
            cell = sheet.cell(row=row_index, column=column_index, value=value)
            if isinstance(value, date):
                cell.number_format = "dd/mm/yyyy"


def reproducible_xlsx(workbook: Workbook) -> bytes:
    """The workbook's bytes, the same on every run and machine.

    openpyxl stamps the save time into docProps/core.xml and the current time onto each zip
    entry, and zlib builds may compress differently; so the archive is rewritten with the
    fixed metadata, fixed entry dates and attributes, a fixed order ([Content_Types].xml
    first, then by name) and no compression.
    """
    properties = workbook.properties
    properties.creator = "Service RH"
    properties.lastModifiedBy = None
    properties.created = WORKBOOK_TIMESTAMP
    saved = io.BytesIO()
    workbook.save(saved)
    properties.modified = WORKBOOK_TIMESTAMP  # save() has just set it to now
    core = tostring(properties.to_tree())
    output = io.BytesIO()
    with (
        zipfile.ZipFile(saved) as source,
        zipfile.ZipFile(output, "w", zipfile.ZIP_STORED) as target,
    ):
        names = sorted(source.namelist(), key=lambda name: (name != "[Content_Types].xml", name))
        for name in names:
            entry = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            entry.compress_type = zipfile.ZIP_STORED
            entry.create_system = 3
            entry.external_attr = 0o644 << 16
            target.writestr(entry, core if name == "docProps/core.xml" else source.read(name))
    return output.getvalue()


def build_hr(seed: int) -> dict[str, bytes]:
    rng = new_rng(seed, "hr")
    staff = employees(rng)
    workbook = Workbook()
    first_sheet = workbook.active
    assert isinstance(first_sheet, Worksheet)
    sheets = [first_sheet, workbook.create_sheet(HR_SHEETS[10])]
    first_sheet.title = HR_SHEETS[9]
    workbook.create_sheet(NOTES_SHEET)  # deliberately empty: no cell at all
    for month, sheet in zip((9, 10), sheets, strict=True):
        blank = HR_BLANK_HEADER.get(month)
        header = [None if name == blank else name for name in HR_HEADER]
        fill_sheet(sheet, header, hr_rows(rng, staff, month))
    return {HR_FILE: reproducible_xlsx(workbook)}


# -- 3. Support tickets ----------------------------------------------------------------------

TICKETS_SEPTEMBER = "support_tickets_2026-09.json"
TICKETS_OCTOBER = "support_tickets_2026-10.jsonl"
FIRST_TICKET = 101
# Tickets opened per weekday (Monday .. Sunday); one more on days divisible by 3.
TICKETS_PER_WEEKDAY = (7, 6, 6, 5, 5, 2, 1)
SEPTEMBER_EXPORT = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # 2026-10-01T00:00+02:00
OCTOBER_EXPORT = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 2026-11-01T00:00+01:00
SEPTEMBER_GENERATED_AT = "2026-10-01T06:00:00+02:00"
DST_ENDS = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # Paris: +02:00 before, +01:00 after
TICKET_DUPLICATED_NEXT = {9: "T-000120", 10: "T-000300"}  # repeated on the next record
TICKET_DUPLICATED_AT_END = "T-000175"  # September, repeated as the last record
TICKET_BAD_OPENED_AT = ("T-000290", "2026-13-01T10:00:00Z")
TEAM_WEIGHTS: Weighted = ((SUPPORT, 70), (SALES, 15), (OPERATIONS, 15))
TICKET_SPELLING_WEIGHTS: dict[str, Weighted] = {
    SALES: (("Ventes", 2), ("Sales", 1), ("ventes ", 1)),
    SUPPORT: (("Support client", 3), ("support", 2), ("Support", 1)),
    OPERATIONS: (("ops", 2), ("Opérations", 1), ("Operations", 1)),
}
TAGS: dict[str, tuple[str, ...]] = {
    SUPPORT: ("compte", "facturation", "produit-défectueux", "remboursement", "mot-de-passe"),
    SALES: ("devis", "tarif", "commande", "grand-compte"),
    OPERATIONS: ("livraison", "retard", "retour", "entrepôt", "colis-endommagé"),
}
PRIORITIES: Weighted = (("P1", 5), ("P2", 20), ("P3", 45), ("P4", 30))
# priority -> (first response minutes, resolution hours) ranges
SERVICE_LEVELS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "P1": ((5, 30), (1, 8)),
    "P2": ((15, 120), (4, 48)),
    "P3": ((30, 480), (8, 120)),
    "P4": ((60, 1440), (24, 240)),
}
CHANNELS: Weighted = (("email", 5), ("phone", 3), ("chat", 3), ("web", 2))
SATISFACTION: Weighted = (("1", 1), ("2", 2), ("3", 4), ("4", 7), ("5", 6))
COMPANIES: tuple[tuple[str, str], ...] = (
    ("Boulangerie Martin SARL", "boulangerie-martin.example"),
    ("Épicerie Fine Lemoine", "epicerie-lemoine.example"),
    ("Café des Arts", "cafedesarts.example"),
    ("Hôtel du Lac SAS", "hotel-du-lac.example"),
    ("Restaurant Le Cèdre", "lecedre.example"),
    ("Cantine Scolaire de Vénissieux", "venissieux-cantine.example"),
    ("Traiteur Dubreuil & Fils", "dubreuil-traiteur.example"),
    ("Supérette du Marché", "superette-marche.example"),
    ("Bistrot Chez Gégé", "chez-gege.example"),
    ("Crèche Les Petits Loups", "petits-loups.example"),
    ("Maison Rivière Primeurs", "riviere-primeurs.example"),
    ("Brasserie de l'Étoile", "brasserie-etoile.example"),
)
CUSTOMER_COUNT = 36


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    company: str


@dataclass(frozen=True)
class Ticket:
    """A ticket's whole life; `record` says what an export taken at a given moment shows."""

    number: int
    opened: datetime
    closed: datetime | None
    team: str
    priority: str
    channel: str
    customer: Customer
    tags: tuple[str, ...]
    first_response_minutes: int
    satisfaction: int
    styles: tuple[str, str]  # how opened_at / closed_at are written

    @property
    def ticket_id(self) -> str:
        return f"T-{self.number:06d}"

    def record(self, export: datetime) -> dict[str, object]:
        closed = self.closed is not None and self.closed <= export
        minutes: int | str = self.first_response_minutes
        if self.number % 13 == 0:
            minutes = str(minutes)
        opened_at = timestamp(self.opened, self.styles[0])
        if self.ticket_id == TICKET_BAD_OPENED_AT[0]:
            opened_at = TICKET_BAD_OPENED_AT[1]
        record: dict[str, object] = {
            "ticket_id": self.ticket_id,
            "opened_at": opened_at,
            "closed_at": timestamp(self.closed, self.styles[1])
            if closed and self.closed is not None
            else None,
            "status": "closed" if closed else ("pending" if self.number % 2 else "open"),
            "team": self.team,
            "priority": self.priority.lower() if self.number % 11 == 0 else self.priority,
            "channel": self.channel,
            "customer": {
                "name": self.customer.name,
                "email": self.customer.email,
                "company": self.customer.company,
            },
        }
        if closed and self.number % 5 != 0:
            record["satisfaction"] = None if self.number % 7 == 0 else self.satisfaction
        record["tags"] = list(self.tags)
        record["first_response_minutes"] = minutes
        return record


def paris_offset(moment: datetime) -> timedelta:
    return timedelta(hours=2 if moment < DST_ENDS else 1)


def timestamp(moment: datetime, style: str) -> str:
    """ISO 8601 with a zone: 'Z', 'Z' with milliseconds, or the Paris offset."""
    if style == "Z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "Zms":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    offset = paris_offset(moment)
    hours = int(offset.total_seconds()) // 3600
    return (moment + offset).strftime("%Y-%m-%dT%H:%M:%S") + f"+{hours:02d}:00"


TIMESTAMP_STYLES: Weighted = (("Z", 9), ("Zms", 1), ("local", 10))


def customers(rng: random.Random) -> list[Customer]:
    pool: list[Customer] = []
    for first, last in unique_names(rng, CUSTOMER_COUNT, set()):
        company, domain = rng.choice(COMPANIES)
        email = f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}"
        pool.append(Customer(f"{first} {last}", email, company))
    return pool


def tickets(seed: int) -> list[Ticket]:
    rng = new_rng(seed, "tickets")
    pool = customers(rng)
    result: list[Ticket] = []
    number = FIRST_TICKET
    for day in days(FIRST_DAY, LAST_DAY):
        count = TICKETS_PER_WEEKDAY[day.weekday()] + (day.day % 3 == 0)
        local_seconds = sorted(rng.randint(8 * 3600, 19 * 3600) for _ in range(count))
        for seconds in local_seconds:
            local = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                seconds=seconds, milliseconds=rng.randint(0, 999)
            )
            opened = local - paris_offset(local)
            department = pick(rng, TEAM_WEIGHTS)
            priority = pick(rng, PRIORITIES)
            (low_minutes, high_minutes), (low_hours, high_hours) = SERVICE_LEVELS[priority]
            resolution_minutes = rng.randint(low_hours * 60, high_hours * 60)
            first_response = min(rng.randint(low_minutes, high_minutes), resolution_minutes)
            resolution = timedelta(minutes=resolution_minutes)
            tags = rng.sample(TAGS[department], k=rng.choice((0, 1, 1, 2)))
            if priority == "P1":
                tags.append("urgent")
            result.append(
                Ticket(
                    number=number,
                    opened=opened,
                    closed=None if number % 37 == 0 else opened + resolution,
                    team=pick(rng, TICKET_SPELLING_WEIGHTS[department]),
                    priority=priority,
                    channel=pick(rng, CHANNELS),
                    customer=rng.choice(pool),
                    tags=tuple(tags),
                    first_response_minutes=first_response,
                    satisfaction=int(pick(rng, SATISFACTION)),
                    styles=(pick(rng, TIMESTAMP_STYLES), pick(rng, TIMESTAMP_STYLES)),
                )
            )
            number += 1
    return result


def build_tickets(seed: int) -> dict[str, bytes]:
    everything = tickets(seed)
    september = [t for t in everything if t.opened < SEPTEMBER_EXPORT]
    still_open = [t for t in september if t.closed is None or t.closed > SEPTEMBER_EXPORT]
    october = still_open + [t for t in everything if t.opened >= SEPTEMBER_EXPORT]

    records: list[dict[str, object]] = []
    for ticket in september:
        records.append(ticket.record(SEPTEMBER_EXPORT))
        if ticket.ticket_id == TICKET_DUPLICATED_NEXT[9]:
            records.append(ticket.record(SEPTEMBER_EXPORT))
    records += [
        t.record(SEPTEMBER_EXPORT) for t in september if t.ticket_id == TICKET_DUPLICATED_AT_END
    ]
    document = {
        "export": {
            "generated_at": SEPTEMBER_GENERATED_AT,
            "source": "helpdesk",
            "period": {"from": "2026-09-01", "to": "2026-09-30"},
            "ticket_count": len(september),
        },
        "tickets": records,
    }
    lines: list[str] = []
    for ticket in october:
        line = json.dumps(ticket.record(OCTOBER_EXPORT), ensure_ascii=False)
        lines.append(line)
        if ticket.ticket_id == TICKET_DUPLICATED_NEXT[10]:
            lines.append(line)
    september_ids = {t.ticket_id for t in september}
    october_ids = {t.ticket_id for t in october} - september_ids
    if not (
        {TICKET_DUPLICATED_NEXT[9], TICKET_DUPLICATED_AT_END} <= september_ids
        and {TICKET_DUPLICATED_NEXT[10], TICKET_BAD_OPENED_AT[0]} <= october_ids
    ):
        raise AssertionError("a ticket defect names a ticket outside its month")
    return {
        TICKETS_SEPTEMBER: (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode(),
        TICKETS_OCTOBER: "".join(line + "\n" for line in lines).encode(),
    }


# -- Rejects ---------------------------------------------------------------------------------


def build_rejects() -> dict[str, bytes]:
    return {
        "empty.csv": b"",
        "header_only.csv": write_csv([]),
        "ragged.csv": (
            b"date,department,kpi,value\n"
            b"2026-09-01,Ventes,chiffre_affaires,1200.50\n"
            b"2026-09-02,Ventes,chiffre_affaires,1310.00,oops\n"
            b"2026-09-03,Ventes,chiffre_affaires,1187.25\n"
        ),
        "fake.xlsx": (
            b"This is a plain text file wearing an .xlsx extension.\n"
            b"It is not a zip archive, so no spreadsheet reader should accept it.\n"
        ),
        "duplicate_headers.csv": (
            b"date,department,value,value\n"
            b"2026-09-01,Ventes,1200.50,1199.00\n"
            b"2026-09-02,Support client,87,91\n"
        ),
    }


# -- Entry point -----------------------------------------------------------------------------


def build_sources(seed: int) -> dict[str, bytes]:
    """Every source file's name and bytes."""
    return {**build_sales(seed), **build_hr(seed), **build_tickets(seed)}


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="source files folder")
    parser.add_argument("--rejects", type=Path, default=DEFAULT_REJECTS, help="rejects folder")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    write_files(args.out, build_sources(args.seed))
    write_files(args.rejects, build_rejects())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
