"""The landing benchmark's files: the same KPI rows on every run (seeded), as a CSV, an XLSX
workbook and JSON Lines."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness.report import MB, progress

SEED = 42
HEADERS = ["date", "department", "category", "subcategory", "kpi", "value", "unit", "comment"]

DEPARTMENTS = [
    "Finance",
    "Human Resources",
    "Operations",
    "Sales",
    "Marketing",
    "IT",
    "Logistics",
    "Quality",
    "Purchasing",
    "Legal",
    "Customer Service",
    "R&D",
]
CATEGORIES = {
    "Costs": ["Payroll", "Travel", "Energy", "Licences", "Subcontracting"],
    "Revenue": ["Products", "Services", "Subscriptions", "Maintenance"],
    "People": ["Headcount", "Absence", "Training", "Turnover"],
    "Delivery": ["Inbound", "Outbound", "Returns", "Stock"],
    "Service": ["Tickets", "Calls", "Satisfaction", "Incidents"],
    "Compliance": ["Audits", "Contrôles", "Findings", "Trainings"],
}
CATEGORY_NAMES = list(CATEGORIES)
KPIS = [  # name, unit, low, high
    ("On-time delivery rate", "%", 70.0, 100.0),
    ("Cost per unit", "EUR", 1.0, 250.0),
    ("Monthly spend", "kEUR", 10.0, 9_000.0),
    ("Headcount", "FTE", 1.0, 400.0),
    ("Absence rate", "%", 0.0, 15.0),
    ("Tickets closed", "count", 0.0, 5_000.0),
    ("Average handling time", "min", 1.0, 60.0),
    ("Net promoter score", "pts", -100.0, 100.0),
    ("Gross margin", "%", -20.0, 60.0),
    ("Energy use", "MWh", 0.5, 900.0),
]
COMMENTS = [
    "",
    "",
    "ok",
    "checked by the controller",
    "provisional figure",
    "estimated, to be confirmed at month end",
    "late, supplier issue",
    'revised after the "Q2" review',
    "écart expliqué par la saisonnalité",
    "see the monthly report",
    "one-off event",
    "includes the Île-de-France site",
]
FIRST_DAY = dt.date(2022, 1, 1)
DAYS = 3 * 365


@dataclass(frozen=True)
class Row:
    date: dt.date
    department: str
    category: str
    subcategory: str
    kpi: str
    value: float
    unit: str
    comment: str


def make_rows(count: int) -> Iterator[Row]:
    """`count` KPI rows, the same ones on every run (seeded)."""
    rng = random.Random(SEED)
    for _ in range(count):
        category = rng.choice(CATEGORY_NAMES)
        kpi, unit, low, high = rng.choice(KPIS)
        yield Row(
            date=FIRST_DAY + dt.timedelta(days=rng.randrange(DAYS)),
            department=rng.choice(DEPARTMENTS),
            category=category,
            subcategory=rng.choice(CATEGORIES[category]),
            kpi=kpi,
            value=round(rng.uniform(low, high), 2),
            unit=unit,
            comment=rng.choice(COMMENTS),
        )


def write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerows(
            (
                row.date.isoformat(),
                row.department,
                row.category,
                row.subcategory,
                row.kpi,
                f"{row.value:.2f}",
                row.unit,
                row.comment,
            )
            for row in make_rows(count)
        )


def write_xlsx(path: Path, count: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("KPIs")
    sheet.append(HEADERS)
    for row in make_rows(count):
        sheet.append(
            [
                row.date,
                row.department,
                row.category,
                row.subcategory,
                row.kpi,
                row.value,
                row.unit,
                row.comment,
            ]
        )
    workbook.save(path)


def write_jsonl(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for number, row in enumerate(make_rows(count), start=1):
            record = {
                "date": row.date.isoformat(),
                "department": row.department,
                "category": row.category,
                "subcategory": row.subcategory,
                "kpi": row.kpi,
                "value": row.value,
                "unit": row.unit,
                "comment": row.comment,
                "source": {"system": "erp", "batch": number // 1000, "validated": number % 7 != 0},
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def generate(workdir: Path, arguments: argparse.Namespace) -> dict[str, Path]:
    files = {
        "csv": workdir / "kpis.csv",
        "xlsx": workdir / "kpis.xlsx",
        "jsonl": workdir / "kpis.jsonl",
    }
    steps: list[tuple[str, int, Callable[[Path, int], None]]] = [
        ("csv", arguments.rows, write_csv),
        ("xlsx", arguments.xlsx_rows, write_xlsx),
        ("jsonl", arguments.jsonl_rows, write_jsonl),
    ]
    for kind, rows, writer in steps:
        progress(f"generating {rows:,}-row {kind.upper()}...")
        started = time.perf_counter()
        writer(files[kind], rows)
        progress(
            f"  {files[kind].stat().st_size / MB:.1f} MB in {time.perf_counter() - started:.1f} s"
        )
    return files
