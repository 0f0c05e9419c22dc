"""The landing benchmark's report: every case's figures, then the ratios against targets."""

from __future__ import annotations

import os
import sys

from benchmarks.harness.report import MB, Column, format_table, verdict
from benchmarks.landing.cases import Benchmark, Case
from benchmarks.landing.jobs import Measurement

CSV_COPY_TARGET = 0.3  # loader throughput / plain COPY throughput
CSV_RSS_TARGET_MB = 100.0  # loader peak RSS on the CSV
XLSX_SPEED_TARGET = 3.0  # loader rows/s / openpyxl read-only rows/s


def _mb(kib: int) -> str:
    return f"{kib * 1024 / MB:.1f}"


def results_table(cases: list[Case]) -> str:
    columns = [
        Column("case", "<", 33),
        Column("rows", ">", 10),
        Column("MB", ">", 7),
        Column("seconds", ">", 8),
        Column("rows/s", ">", 10),
        Column("MB/s", ">", 7),
        Column("base RSS MB", ">", 11),
        Column("peak RSS MB", ">", 11),
        Column("ru_maxrss MB", ">", 12),
    ]
    rows = [["-" * (column.width or 0) for column in columns]]  # a rule under each title
    for case in cases:
        measured = case.measurement
        if measured is None or case.failed:
            rows.append([case.label, "FAILED", *[""] * 7])
            continue
        rows.append(
            [
                case.label,
                f"{measured.rows:,}",
                f"{measured.size_bytes / MB:.1f}",
                f"{measured.seconds:.2f}",
                f"{measured.rows_per_second:,.0f}",
                f"{measured.mb_per_second:.1f}",
                _mb(measured.baseline_rss_kib),
                _mb(measured.peak_rss_kib),
                _mb(measured.ru_maxrss_kib),
            ]
        )
    return format_table(columns, rows)


def ratios_table(cases: dict[str, Case]) -> str:
    def measured(key: str) -> Measurement | None:
        case = cases.get(key)
        return case.measurement if case and not case.failed else None

    rows: list[tuple[str, str, str, str]] = []
    loader, copy, copy_wal = measured("csv"), measured("copy"), measured("copy_wal")
    if loader and copy:
        ratio = loader.mb_per_second / copy.mb_per_second
        rows.append(
            (
                "CSV loader / plain COPY (new table), throughput",
                f"{ratio:.2f}",
                f">= {CSV_COPY_TARGET}",
                verdict(ratio >= CSV_COPY_TARGET),
            )
        )
    else:
        rows.append(("CSV loader / plain COPY (new table), throughput", "n/a", "", "FAILED"))
    if loader and copy_wal:
        ratio = loader.mb_per_second / copy_wal.mb_per_second
        rows.append(("CSV loader / plain COPY (existing table)", f"{ratio:.2f}", "", "info"))
    if loader:
        peak = loader.peak_rss_kib * 1024 / MB
        rows.append(
            (
                "CSV loader peak RSS",
                f"{peak:.1f} MB",
                f"< {CSV_RSS_TARGET_MB:.0f} MB",
                verdict(peak < CSV_RSS_TARGET_MB),
            )
        )
        rows.append(
            (
                "CSV loader RSS growth while landing",
                f"{(loader.peak_rss_kib - loader.baseline_rss_kib) * 1024 / MB:.1f} MB",
                "",
                "info",
            )
        )
    xlsx, openpyxl_reader = measured("xlsx"), measured("openpyxl")
    if xlsx and openpyxl_reader:
        ratio = xlsx.rows_per_second / openpyxl_reader.rows_per_second
        rows.append(
            (
                "XLSX loader / openpyxl read-only, rows/s",
                f"{ratio:.2f}x",
                f">= {XLSX_SPEED_TARGET:.0f}x",
                verdict(ratio >= XLSX_SPEED_TARGET),
            )
        )
    else:
        rows.append(("XLSX loader / openpyxl read-only, rows/s", "n/a", "", "FAILED"))
    jsonl, json_loads = measured("jsonl"), measured("json")
    if jsonl:
        rows.append(("JSONL loader rows/s", f"{jsonl.rows_per_second:,.0f}", "", "info"))
        if json_loads:
            ratio = jsonl.rows_per_second / json_loads.rows_per_second
            rows.append(("JSONL loader / json.loads, rows/s", f"{ratio:.2f}x", "", "info"))
    else:
        rows.append(("JSONL loader rows/s", "n/a", "", "FAILED"))
    columns = [
        Column("ratio"),
        Column("value", ">", 10),
        Column("target", "<", 10),
        Column("verdict"),
    ]
    return format_table(columns, rows, rule=True)


def report(bench: Benchmark, server: str) -> None:
    cases = list(bench.cases.values())
    print(
        f"Rempart landing benchmark ({server}; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs)"
    )
    print()
    print(results_table(cases))
    print()
    print(ratios_table(bench.cases))
    print()
    print(
        "MB = 1,000,000 bytes. Seconds: the work alone, in a fresh process (imports and the\n"
        "connection excluded). base RSS: after the imports; peak RSS: the process's VmHWM.\n"
        "ru_maxrss is shown for reference only: Linux carries the parent's peak over exec."
    )
    failures = [case for case in cases if case.failed]
    if failures:
        print()
        for case in failures:
            print(f"FAILED {' '.join(case.label.split())}: {case.error}")
