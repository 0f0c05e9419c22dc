"""The French sales exports (`sales_fr`) that the transform, freshness and dashboards
benchmarks land, the same on every run.

`;`-separated, Windows-1252, CRLF, dd/mm/yyyy dates, decimal commas, thousands separated by
spaces: a big file whose business keys (day, KPI, department, category, subcategory) are all
distinct, spread over 2020-2029 and 400 subcategories; and a small one, later by name, of new
keys and updates of keys of the big file with another value (last write wins).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness.report import MB, progress

SEED = 42
INCREMENT_SHARE = 0.01  # the small file's rows, as a share of the big file's

BIG_FILE = "sales_fr_2020-2029.csv"
SMALL_FILE = "sales_fr_2030-01.csv"  # later by name, and landed later

HEADER = "date_mesure;département;catégorie;sous_catégorie;indicateur;valeur;unité;commentaire"
FIRST_DAY = dt.date(2020, 1, 1)
DAYS = (dt.date(2029, 12, 31) - FIRST_DAY).days + 1  # 3,653
DEPARTMENTS = ["Ventes", "Support client", "Opérations"]
CATEGORIES = ["Boissons", "Épicerie", "Frais"]
SUBCATEGORIES = [f"ligne {number:04d}" for number in range(1, 401)]


@dataclass(frozen=True)
class Kpi:
    code: str
    unit: str
    low: int  # in units of 10**-decimals
    high: int
    decimals: int
    suffix: str  # sometimes written after the number, as people do


KPIS = [
    Kpi("chiffre_affaires", "EUR", 100_00, 25_000_00, 2, " €"),
    Kpi("unites_vendues", "unités", 0, 5_000, 0, ""),
    Kpi("panier_moyen", "EUR", 5_00, 80_00, 2, " €"),
    Kpi("taux_conversion", "%", 50, 9_99, 2, " %"),
]
COMMENTS = [
    "",
    "",
    "",
    "",
    "",
    "vérifié",
    "provisoire",
    "à confirmer en fin de mois",
    "écart expliqué par la saisonnalité",
    "promotion « été »",
    "opération cœur de gamme",
    "inventaire tournant, magasin fermé l'après-midi",
]

# Every business key is a number below KEY_SPACE (day, KPI, department, category, subcategory
# in mixed radix). Row i of the data set gets key (i * KEY_STRIDE + KEY_OFFSET) % KEY_SPACE:
# a bijection, since the stride is prime to the key space, so rows never share a key and their
# keys scatter over every day, department and subcategory.
KEY_SPACE = DAYS * len(KPIS) * len(DEPARTMENTS) * len(CATEGORIES) * len(SUBCATEGORIES)
KEY_STRIDE = 7_368_787
KEY_OFFSET = 1_234_567
assert math.gcd(KEY_STRIDE, KEY_SPACE) == 1

DATE_TEXTS = [(FIRST_DAY + dt.timedelta(days=day)).strftime("%d/%m/%Y") for day in range(DAYS)]
MASK64 = (1 << 64) - 1


def _mix(value: int) -> int:
    """SplitMix64: a cheap, well-spread 64-bit hash, so each value is a function of its key."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def key_of(position: int) -> int:
    return (position * KEY_STRIDE + KEY_OFFSET) % KEY_SPACE


def scaled_value(key: int, version: int) -> int:
    """The value of a key in a version of the data (0: the big file, 1: an update), scaled."""
    kpi = KPIS[(key // DAYS) % len(KPIS)]
    span = kpi.high - kpi.low + 1
    value = kpi.low + _mix((SEED << 60) ^ (key << 2) ^ version) % span
    if version and value == scaled_value(key, 0):
        value = kpi.low + (value - kpi.low + 1) % span  # an update always changes the value
    return value


def french_number(scaled: int, decimals: int, separator: str) -> str:
    """`1234567` with 2 decimals as `12 345,67`: spaces between thousands, a decimal comma."""
    units, fraction = divmod(scaled, 10**decimals)
    digits = str(units)
    groups = [digits[max(0, end - 3) : end] for end in range(len(digits), 0, -3)]
    text = separator.join(reversed(groups))
    return f"{text},{fraction:0{decimals}d}" if decimals else text


def csv_line(key: int, version: int) -> str:
    """One row of a `sales_fr` export, for a business key, as the French team writes it."""
    rest, day = divmod(key, DAYS)
    rest, kpi_index = divmod(rest, len(KPIS))
    rest, department = divmod(rest, len(DEPARTMENTS))
    subcategory, category = divmod(rest, len(CATEGORIES))
    kpi = KPIS[kpi_index]
    style = _mix(key ^ (version << 40) ^ 0x5EED)
    separator = "\u00a0" if style % 5 == 0 else " "  # some exports use no-break spaces
    value = french_number(scaled_value(key, version), kpi.decimals, separator)
    if kpi.suffix and (style >> 8) % 4 == 0:
        value += kpi.suffix
    return ";".join(
        (
            DATE_TEXTS[day],
            DEPARTMENTS[department],
            CATEGORIES[category],
            SUBCATEGORIES[subcategory],
            kpi.code,
            value,
            kpi.unit,
            COMMENTS[(style >> 16) % len(COMMENTS)],
        )
    )


def write_export(path: Path, lines: Iterator[str]) -> int:
    """A `sales_fr` export: Windows-1252, CRLF line ends, the header first. Returns its rows."""
    rows = 0
    with path.open("w", encoding="cp1252", newline="") as handle:
        handle.write(HEADER + "\r\n")
        for line in lines:
            handle.write(line + "\r\n")
            rows += 1
    return rows


@dataclass(frozen=True)
class DataPlan:
    rows: int  # big file
    new_keys: int  # small file: keys the big file lacks
    updates: int  # small file: keys of the big file, with another value

    @property
    def small_rows(self) -> int:
        return self.new_keys + self.updates

    @classmethod
    def for_rows(cls, rows: int) -> DataPlan:
        small = max(2, round(rows * INCREMENT_SHARE))
        updates = min(rows, small // 2)
        return cls(rows=rows, new_keys=small - updates, updates=updates)


def generate(workdir: Path, plan: DataPlan) -> tuple[Path, Path]:
    big, small = workdir / BIG_FILE, workdir / SMALL_FILE
    progress(f"generating {big.name} ({plan.rows:,} rows)...")
    started = time.perf_counter()
    write_export(big, (csv_line(key_of(position), 0) for position in range(plan.rows)))
    progress(f"  {big.stat().st_size / MB:.1f} MB in {time.perf_counter() - started:.1f} s")

    progress(
        f"generating {small.name} ({plan.small_rows:,} rows: {plan.new_keys:,} new keys, "
        f"{plan.updates:,} updates)..."
    )
    rng = random.Random(SEED)
    updated = rng.sample(range(plan.rows), plan.updates)
    new = range(plan.rows, plan.rows + plan.new_keys)  # positions past the big file's
    lines = [csv_line(key_of(position), 1) for position in updated]
    lines += [csv_line(key_of(position), 0) for position in new]
    rng.shuffle(lines)
    write_export(small, iter(lines))
    progress(f"  {small.stat().st_size / MB:.2f} MB")
    return big, small
