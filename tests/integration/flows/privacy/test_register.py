"""The register of processing is written from the code: the committed one is what
`rempart privacy register` writes from the seeds and the dbt models as they are."""

from __future__ import annotations

from pathlib import Path

from flows.privacy.register import REGISTER
from flows.runtime.settings import PROJECT_DIR
from tests.conftest import run_rempart


def test_the_committed_register_is_what_the_code_says(tmp_path: Path) -> None:
    written = tmp_path / "register.md"
    run_rempart("privacy", "register", "--to", str(written))
    fresh = written.read_text(encoding="utf-8")
    assert (PROJECT_DIR / REGISTER).read_text(encoding="utf-8") == fresh, (
        "docs/register_of_processing.md is stale: run `rempart privacy register` and commit it"
    )
    # What it must say, from the declarations: the identifiers, their anonymisation, the
    # retention of their source.
    assert (
        "| hr_headcount | The employee's work e-mail | `email` (`email`) | yes | 730 days" in fresh
    )
    assert (
        "| intermediate | `int_tickets_parsed` | `customer_key` | email | keyed pseudonym" in fresh
    )
