"""Subject access on the demo deployment: `rempart privacy report` prints every landed row
that holds one employee (by e-mail or employee ID) or one customer (an e-mail inside a JSON
cell), and no one else's; the audit trail records the report without the identifier."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Deployment

pytestmark = pytest.mark.e2e

EMPLOYEE = ("camille.morel@rempart-demo.example", "EMP-1001", "Camille Morel")
CUSTOMER = ("anais.simon@cafedesarts.example", "Anaïs Simon")


def _rows_holding(deployment: Deployment, text: str) -> int:
    """Counted apart from the seeds: landed rows in which some cell contains the text."""
    [(count,)] = deployment.query(
        "select count(*) from raw.records "
        "where position(lower(%s) in lower(array_to_string(cells, chr(31)))) > 0",
        text,
    )
    return count


def _other_emails(deployment: Deployment, own: str) -> set[str]:
    rows = deployment.query(
        "select distinct (regexp_matches(array_to_string(cells, ' '), "
        "'[A-Za-z0-9._-]+@[A-Za-z0-9.-]+', 'g'))[1] from raw.records"
    )
    return {email for (email,) in rows} - {own}


def test_a_report_holds_the_person_and_no_one_else(deployment: Deployment) -> None:
    email, employee_id, name = EMPLOYEE
    expected = _rows_holding(deployment, email)
    assert expected > 1
    for option, value in (("--email", email), ("--employee-id", employee_id)):
        said = deployment.rempart("privacy", "report", option, value)
        assert f"Rempart holds {expected} landed row(s)" in said, said
        assert name in said and "hr_headcount_2026-q3.xlsx" in said
        others = _other_emails(deployment, email)
        assert others and not any(other in said for other in others)

    email, name = CUSTOMER
    said = deployment.rempart("privacy", "report", "--email", email)
    assert f"Rempart holds {_rows_holding(deployment, email)} landed row(s)" in said, said
    assert name in said and "support_tickets.customer.email" in said
    assert not any(other in said for other in _other_emails(deployment, email))

    said = deployment.rempart("privacy", "report", "--email", "nobody@nowhere.example")
    assert "Rempart holds no landed row with this email." in said
    events = deployment.query(
        "select details::text from audit.events where action = 'subject_access_report'"
    )
    assert len(events) == 4
    assert not any(EMPLOYEE[0] in text or EMPLOYEE[1] in text for (text,) in events)
