"""What a file is, checked before anything is landed: extension, magic bytes, size, zip sanity."""

from __future__ import annotations

import zipfile
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from loaders.errors import RejectedFile


class FileType(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    XLSM = "xlsm"
    XLSB = "xlsb"
    ODS = "ods"
    XLS = "xls"
    JSON = "json"
    JSONL = "jsonl"


# Workbooks that are zip archives, and the entry that says which kind each one is.
ZIPPED_WORKBOOKS: dict[FileType, tuple[str, str]] = {
    FileType.XLSX: ("xl/workbook.xml", "an Office Open XML workbook"),
    FileType.XLSM: ("xl/workbook.xml", "an Office Open XML workbook"),
    FileType.XLSB: ("xl/workbook.bin", "an Excel binary workbook"),
    FileType.ODS: ("content.xml", "an OpenDocument spreadsheet"),
}
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


EXTENSIONS: dict[str, FileType] = {
    ".csv": FileType.CSV,
    ".tsv": FileType.CSV,
    ".txt": FileType.CSV,
    ".xlsx": FileType.XLSX,
    ".xlsm": FileType.XLSM,
    ".xlsb": FileType.XLSB,
    ".ods": FileType.ODS,
    ".xls": FileType.XLS,
    ".json": FileType.JSON,
    ".jsonl": FileType.JSONL,
    ".ndjson": FileType.JSONL,
}
# Templates and add-ins exist to carry macros: refused whatever they hold.
MACRO_EXTENSIONS = {".xltm", ".xlam"}

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
BINARY_MAGICS: dict[bytes, str] = {
    ZIP_MAGIC: "a zip archive",
    OLE2_MAGIC: "an OLE2 (legacy Office) document",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
    b"\x7fELF": "an executable",
}
VBA_STREAM_NAME = "_VBA_PROJECT".encode("utf-16-le")

# A workbook may expand this much, and no more, when unzipped: real sheets compress ~5-30x,
# a zip bomb compresses thousands of times.
MAX_COMPRESSION_RATIO = 200
MAX_UNCOMPRESSED_BYTES = 4 << 30


def first_bytes_contradict(file_type: FileType, head: bytes) -> str | None:
    """What the first bytes of a file are, when they cannot begin a file of this type (a
    quick check while a file still arrives; detect_type checks the whole file)."""
    if file_type in ZIPPED_WORKBOOKS:
        fits = head.startswith(ZIP_MAGIC)
    elif file_type is FileType.XLS:
        fits = head.startswith(OLE2_MAGIC)
    else:
        fits = not any(head.startswith(magic) for magic in BINARY_MAGICS)
    return None if fits else _describe(head)


def _describe(head: bytes) -> str:
    for magic, description in BINARY_MAGICS.items():
        if head.startswith(magic):
            return description
    if b"\x00" in head:
        return "binary data"
    return "text"


def detect_type(path: Path, handle: BinaryIO, size: int, max_bytes: int) -> FileType:
    """Return the file's type, or reject it with the reason."""
    name = path.name
    suffix = path.suffix.lower()
    if suffix in MACRO_EXTENSIONS:
        raise RejectedFile(
            name,
            "macro-enabled templates and add-ins are not accepted",
            expected="a workbook (.xlsx, .xlsm, .xlsb, .ods, .xls), a .csv or a .json file",
            found=f"a {suffix} file",
        )
    file_type = EXTENSIONS.get(suffix)
    if file_type is None:
        raise RejectedFile(
            name,
            "unsupported file type",
            expected="one of " + ", ".join(sorted(EXTENSIONS)),
            found=f"'{suffix or '(no extension)'}'",
        )
    if size == 0:
        raise RejectedFile(
            name, "the file is empty", expected="a header and data rows", found="0 bytes"
        )
    if size > max_bytes:
        raise RejectedFile(
            name,
            "the file is too large",
            expected=f"at most {max_bytes:,} bytes (REMPART_MAX_FILE_SIZE_MB)",
            found=f"{size:,} bytes",
        )
    handle.seek(0)
    head = handle.read(8)
    handle.seek(0)
    if file_type in ZIPPED_WORKBOOKS:
        _, kind = ZIPPED_WORKBOOKS[file_type]
        if not head.startswith(ZIP_MAGIC):
            raise RejectedFile(
                name,
                f"the extension says {suffix} but the content is not a workbook",
                expected=f"a zip archive ({kind})",
                found=_describe(head),
            )
        _check_workbook_zip(name, handle, size, file_type)
    elif file_type is FileType.XLS:
        if not head.startswith(OLE2_MAGIC):
            raise RejectedFile(
                name,
                "the extension says .xls but the content is not a workbook",
                expected="an OLE2 (Excel 97-2003) document",
                found=_describe(head),
            )
        _check_legacy_workbook(name, handle)
    else:
        kind = _describe(head)
        if kind != "text":
            raise RejectedFile(
                name,
                f"the extension says {suffix} but the content is not text",
                expected="text",
                found=kind,
            )
    return file_type


def _check_workbook_zip(name: str, handle: BinaryIO, size: int, file_type: FileType) -> None:
    entry, kind = ZIPPED_WORKBOOKS[file_type]
    try:
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
            names = {member.filename for member in members}
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as error:
        raise RejectedFile(
            name, "the workbook is not a valid zip archive", found=str(error)
        ) from error
    finally:
        handle.seek(0)
    if entry not in names or (file_type is FileType.ODS and mimetype.strip() != ODS_MIMETYPE):
        raise RejectedFile(
            name,
            f"the zip archive is not {kind}",
            expected=entry if file_type is not FileType.ODS else f"{entry} and its mimetype",
            found=f"{len(names)} other entries",
        )
    # VBA in Office files; Basic macros and scripts in OpenDocument ones.
    macros = sorted(
        n
        for n in names
        if n.lower().endswith("vbaproject.bin") or n.startswith(("Basic/", "Scripts/"))
    )
    if macros:
        raise RejectedFile(
            name,
            "the workbook carries macros, which are not accepted",
            expected="a workbook without VBA",
            found=macros[0],
        )
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNCOMPRESSED_BYTES or unpacked > MAX_COMPRESSION_RATIO * size:
        raise RejectedFile(
            name,
            "the workbook expands suspiciously when unzipped (zip bomb?)",
            expected=f"at most {MAX_COMPRESSION_RATIO}x its size and "
            f"{MAX_UNCOMPRESSED_BYTES:,} bytes",
            found=f"{unpacked:,} bytes from {size:,}",
        )


def _check_legacy_workbook(name: str, handle: BinaryIO) -> None:
    content = handle.read()
    handle.seek(0)
    if VBA_STREAM_NAME in content:
        raise RejectedFile(
            name,
            "the workbook carries macros, which are not accepted",
            expected="a workbook without VBA",
            found="a _VBA_PROJECT stream",
        )
