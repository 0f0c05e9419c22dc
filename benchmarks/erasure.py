"""Erasure benchmark: rewriting one archived file without a person's rows, against sealing
the same file again under a new key (what `rempart secrets rotate archive_key` does to it).

Why: `rempart privacy erase` decrypts each affected archived file, writes it again without
the person's rows in its own format, reads the result back as the loader would and compares
it with the rows kept, then seals it. Key rotation streams the same bytes through the cipher
only, so it is the floor. The rewrite holds the file in memory (the clear text, the rewrite,
its read-back): this measures how much, per MB of file.

What is measured, in one run, each step in a fresh Python process (its peak RSS is its own):

1. A JSON Lines file of support tickets (`--mb`, default 100 MB) and a CSV of the same rows
   (semicolons, Windows-1252), each sealed as the archive seals files; one customer in 1 row
   of 1,000.
2. `reseal`: the archived file sealed again under another key (the floor).
3. `erase`: decrypt, rewrite without that customer's rows, read back and compare, seal,
   as `flows/privacy/landed_file_erasure.py` does (without the database: the fingerprint of
   the rows kept is taken from the original, less the erased rows, as erasure takes it from
   raw).

Printed: MB/s of each, the ratio of erase to reseal, each one's peak RSS, and how much more
the erase takes than the reseal per MB of file.

    .venv/bin/python -m benchmarks.erasure [--mb N]

Results to stdout, progress to stderr; the exit status is 1 only when something failed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness.options import argument_parser
from benchmarks.harness.processes import report_to_parent, ru_maxrss_kib, run_child
from benchmarks.harness.report import progress

ERASED = "erase.me@customer.example"


def _make(folder: Path, megabytes: int) -> dict[str, Path]:
    from flows.privacy.redaction import read_rows, rows_fingerprint
    from loaders.archive import encrypt_file
    from loaders.formats import FileType

    key = secrets.token_bytes(32)
    (folder / "key").write_bytes(key)
    jsonl, csv = folder / "tickets.jsonl", folder / "tickets.csv"
    target = megabytes << 20
    with jsonl.open("w", encoding="utf-8") as lines, csv.open("w", encoding="cp1252") as table:
        table.write("ticket_id;opened_at;status;department;customer_email;satisfaction\r\n")
        number = 0
        while lines.tell() < target:
            number += 1
            email = ERASED if number % 1000 == 0 else f"client{number}@customer.example"
            record = {
                "ticket_id": f"T-{number:08d}",
                "opened_at": "2026-10-02T09:15:00",
                "status": "closed",
                "department": "Support",
                "customer": {"name": f"Client {number}", "email": email},
                "satisfaction": number % 5 + 1,
                "comment": "Réponse rapide, problème résolu. " * 3,
            }
            lines.write(json.dumps(record, ensure_ascii=False) + "\n")
            table.write(
                f"T-{number:08d};02/10/2026 09:15;closed;Support;{email};{number % 5 + 1}\r\n"
            )
    sealed = {}
    for plain in (jsonl, csv):
        target = plain.with_name(plain.name + ".enc")
        # What erasure knows from raw before it touches the file: the rows to drop, and the
        # fingerprint of those it keeps.
        data, file_type = plain.read_bytes(), FileType(plain.suffix[1:])
        drop: dict[str, list[int]] = {}
        for sheet, number, row in read_rows(file_type, plain.name, data):
            if ERASED in json.dumps(row):
                drop.setdefault(sheet, []).append(number)
        kept = rows_fingerprint(
            (sheet, row)
            for sheet, number, row in read_rows(file_type, plain.name, data)
            if number not in drop.get(sheet, [])
        )
        target.with_suffix(".expected.json").write_text(json.dumps({"drop": drop, "kept": kept}))
        del data
        with plain.open("rb") as handle:
            encrypt_file(handle, target, key)
        sealed[plain.suffix[1:]] = target
        plain.unlink()
    return sealed


def _step(kind: str, step: str, path: Path) -> None:
    """One measured step, in this (fresh) process; prints seconds and peak RSS as JSON."""
    import io

    from flows.privacy.redaction import read_rows, rows_fingerprint, without_rows
    from loaders.archive import decrypt_stream, encrypt_file, reencrypt_file
    from loaders.formats import FileType

    key = (path.parent / "key").read_bytes()
    started = time.perf_counter()
    if step == "reseal":
        reencrypt_file(path, key, key)
    else:
        file_type = FileType(kind)
        expected = json.loads(path.with_suffix(".expected.json").read_text())
        drop = {sheet: set(numbers) for sheet, numbers in expected["drop"].items()}
        kept = {sheet: tuple(value) for sheet, value in expected["kept"].items()}
        plain = io.BytesIO()
        with path.open("rb") as handle:
            decrypt_stream(handle, plain, key)
        data = plain.getvalue()
        del plain
        rewritten = without_rows(file_type, path.stem, data, drop)
        del data
        after = rows_fingerprint((s, r) for s, _, r in read_rows(file_type, path.stem, rewritten))
        if after != kept:
            raise SystemExit("the rewrite does not read back as the rows kept")
        encrypt_file(io.BytesIO(rewritten), path, key)
    seconds = time.perf_counter() - started
    report_to_parent({"seconds": seconds, "peak_mb": ru_maxrss_kib() / 1024})


def _measure(kind: str, step: str, path: Path) -> dict[str, float]:
    return run_child(__file__, "--step", kind, step, str(path))


def main() -> int:
    parser = argument_parser(__doc__, __file__)
    parser.add_argument("--mb", type=int, default=100, help="size of each file (MB)")
    parser.add_argument("--step", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--make", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.step:
        _step(arguments.step[0], arguments.step[1], Path(arguments.step[2]))
        return 0
    if arguments.make:
        sealed = _make(Path(arguments.make), arguments.mb)
        report_to_parent({kind: str(path) for kind, path in sealed.items()})
        return 0
    with tempfile.TemporaryDirectory(prefix="rempart-erasure-bench-") as scratch:
        progress(f"making two files of {arguments.mb} MB")
        # Made in a process of its own: a process started by one that grew keeps its peak
        # RSS (Linux carries it across fork and exec), so this one stays small.
        made = run_child(__file__, "--make", scratch, "--mb", str(arguments.mb))
        sealed = {kind: Path(path) for kind, path in made.items()}
        for kind, path in sealed.items():
            size = path.stat().st_size / (1 << 20)
            progress(f"{kind}: reseal, then erase")
            reseal = _measure(kind, "reseal", path)
            erase = _measure(kind, "erase", path)
            print(
                f"{kind} ({size:.0f} MB sealed): reseal {size / reseal['seconds']:.1f} MB/s, "
                f"erase {size / erase['seconds']:.1f} MB/s "
                f"(erase takes {erase['seconds'] / reseal['seconds']:.1f}x the reseal); "
                f"peak RSS reseal {reseal['peak_mb']:.0f} MB, erase {erase['peak_mb']:.0f} MB "
                f"(+{(erase['peak_mb'] - reseal['peak_mb']) / size:.1f} MB per MB of file)"
            )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
