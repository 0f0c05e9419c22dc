"""`rempart privacy register`: the register of processing, written from the code.

Its inputs are the declarations the project runs on, so it cannot drift from them:

* `seeds/personal_data.csv`: which landed column of which source is personal data, and
  `seeds/header_aliases.csv`: under which headers files bring it;
* `seeds/source_kinds.csv`: each source, its retention period and what becomes of its
  history;
* dbt's manifest: every model column tagged `meta.pii`, with its anonymisation
  (`anonymised_by`), its layer and materialisation, and the grants of its model.

The output is Markdown, the same bytes for the same code (no date in it), committed as
`docs/register_of_processing.md`; a test regenerates it and compares.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

from flows.names import ANALYST_ROLE, VIEWER_ROLE_PREFIX
from flows.runtime.settings import Settings
from flows.runtime.tools import tool_environment, venv_binary
from flows.seeds.reader import read_seed

REGISTER = Path("docs") / "register_of_processing.md"
ANONYMISATIONS = {
    "identifier_hash": "keyed hash of the identifier (HMAC-SHA256 under the pseudonymisation key "
    "of another message than the pseudonym's, so it matches no pseudonymised row)",
    "pseudonymise": "keyed pseudonym (HMAC-SHA256 under the pseudonymisation key, computed "
    "in the database; the key never leaves it)",
    "mask_email": "masked e-mail (first letter and domain)",
    "generalise": "generalised value",
}
MATERIALISED = {
    "view": "a view: computed when read, stored nowhere",
    "ephemeral": "ephemeral: inlined into the queries that use it, stored nowhere",
    "table": "a table",
    "incremental": "a table (incremental)",
    "snapshot": "a table of every version",
}


class RegisterError(RuntimeError):
    """The register cannot be written; the message says why."""


def parse_manifest(settings: Settings) -> dict:
    """dbt's manifest of the project as it is now (`dbt parse`: no database needed)."""
    completed = subprocess.run(
        [venv_binary("dbt"), "parse", "--quiet"],
        cwd=settings.project_dir,
        env={**os.environ, **tool_environment(settings)},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RegisterError(f"dbt parse failed: {(completed.stdout + completed.stderr)[-800:]}")
    return json.loads((settings.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))


def _readers(node: dict) -> str:
    grants = node["config"].get("grants", {}).get("select", [])
    if not grants:
        return "the transformer role (dbt) and the administrator only"
    who = ", ".join(f"`{role}`" for role in sorted(grants))
    if ANALYST_ROLE in grants:
        who += (
            f"; Superset's department roles (`{VIEWER_ROLE_PREFIX}<department>`) read their "
            "department's rows only (row-level security)"
        )
    return who


def render(settings: Settings, manifest: dict) -> str:
    personal = read_seed(settings.project_dir, "personal_data")
    identifiers = sorted(
        {row["personal_data"] for row in personal if row["is_identifier"] == "true"}
    )
    sources = {row["source_kind"]: row for row in read_seed(settings.project_dir, "source_kinds")}
    headers: dict[tuple[str, str], list[str]] = defaultdict(list)
    for alias in read_seed(settings.project_dir, "header_aliases"):
        headers[(alias["source_kind"], alias["column_name"])].append(alias["header"])

    lines = [
        "# Register of processing",
        "",
        "Written by `rempart privacy register` from `seeds/personal_data.csv`,",
        "`seeds/header_aliases.csv`, `seeds/source_kinds.csv` and the `meta.pii` tags of the",
        "dbt models: edit those, not this file (a test checks they agree).",
        "",
        "## Personal data received",
        "",
        "Files land verbatim in `raw.records` (every cell as text), readable by the transformer",
        "role (dbt) and the administrator only; the loader may insert, never read back other",
        "files nor change them. Each landed file is also kept encrypted (AES-256-GCM) in the",
        "archive, and rejected files in the quarantine.",
        "",
        "Who sent each file is recorded with it, for accountability: the account that dropped",
        "it in the inbox, or the Superset username of the person who sent it through the upload",
        "page (`raw.files.uploaded_by`, the audit trail, and the marts' `uploaded_by` and",
        "`source_uploaded_by` columns), as long as the file's record is kept.",
        "",
        "| source | personal data | column (headers in files) | identifies a person | kept for |",
        "|---|---|---|---|---|",
    ]
    for row in personal:
        source = sources.get(row["source_kind"], {})
        column = f"`{row['column_name']}`" + (f" → `{row['json_key']}`" if row["json_key"] else "")
        found_as = ", ".join(
            f"`{h}`" for h in sorted(headers[(row["source_kind"], row["column_name"])])
        )
        kept = (
            f"{source['retention_days']} days, then removed; history: {source['mart_history']}"
            if source
            else "undeclared"
        )
        lines.append(
            f"| {row['source_kind']} | {row['description']} | {column} ({found_as}) | "
            f"{'yes' if row['is_identifier'] == 'true' else 'no'} | {kept} |"
        )

    lines += [
        "",
        "## Personal data in the models, and how it is anonymised",
        "",
        "| layer | model | column | personal data | anonymisation | stored as | read by |",
        "|---|---|---|---|---|---|---|",
    ]
    tagged = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "snapshot", "seed"):
            continue
        for column in node.get("columns", {}).values():
            meta = column.get("meta") or {}
            if meta.get("pii"):
                layer = "snapshot" if node["resource_type"] == "snapshot" else node["fqn"][1]
                tagged.append((layer, node["name"], column["name"], meta, node))
    for layer, model, column, meta, node in sorted(tagged, key=lambda t: t[:3]):
        method = meta.get("anonymised_by")
        materialized = node["config"].get("materialized", node["resource_type"])
        lines.append(
            f"| {layer} | `{model}` | `{column}` | {meta['pii']} | "
            f"{ANONYMISATIONS.get(method, method or '**in clear**')} | "
            f"{MATERIALISED.get(materialized, materialized)} | {_readers(node)} |"
        )
    marts = sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    )
    lines += [
        "",
        "No clear personal data reaches the marts: the data test `assert_no_clear_pii_in_marts`",
        "looks for every clear value of the sources above in every mart, at every build.",
        f"The marts ({', '.join(f'`{m}`' for m in marts)}) are read through Superset by",
        "department, under row-level security both in Superset and in PostgreSQL.",
        "",
        "## Retention per source",
        "",
        "| source | kept for | history after expiry | description |",
        "|---|---|---|---|",
    ]
    for name, source in sorted(sources.items()):
        lines.append(
            f"| {name} | {source['retention_days']} days | {source['mart_history']} | "
            f"{source['description']} |"
        )
    lines += [
        "",
        "`rempart retention apply` (nightly) removes what is due, recorded in the audit trail.",
        "",
        "## The rights of the people concerned",
        "",
        f"A person is found by an identifier ({', '.join(f'`{kind}`' for kind in identifiers)}),",
        "compared by keyed hash, and by every other identifier on their rows.",
        "",
        "* Access: `rempart privacy report` prints their landed rows and nobody else's.",
        "* Erasure: `rempart privacy erase` removes their rows from the warehouse, the archived",
        "  and quarantined copies and the marts' history, and rebuilds the marts. The erasure",
        "  register (`privacy.erasures`) keeps keyed hashes of their identifiers, never",
        "  an identifier, for as long as the installation: a backup made before the erasure gets",
        "  it applied again when restored, and a later file that brings them back is flagged",
        "  (`dq_erased_subject_returns`).",
        "",
        "Both are recorded in the audit trail under the identifier's keyed hash, which is not",
        "the pseudonym the models give the person.",
        "",
    ]
    return "\n".join(lines)


def write_register(settings: Settings, target: Path | None = None) -> Path:
    target = target or settings.project_dir / REGISTER
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(settings, parse_manifest(settings)), encoding="utf-8")
    return target
