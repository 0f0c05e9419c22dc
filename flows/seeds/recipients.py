"""Who receives Rempart's alerts and reports: seeds/report_recipients.csv, by audience.

An audience is a department of seeds/departments.csv or the data stewards; a recipient is a
mail address or an HTTPS webhook. Read by the sync of alerts and reports
(flows/superset/schedules.py) and by Superset's start, which tells Superset where a failing
report's notice goes.
"""

from __future__ import annotations

from pathlib import Path

from flows.names import DATA_STEWARDS
from flows.runtime.settings import PROJECT_DIR
from flows.seeds.reader import read_rows

RECIPIENTS_SEED = PROJECT_DIR / "seeds" / "report_recipients.csv"
CHANNELS = {"email": "Email", "webhook": "Webhook"}


class RecipientError(ValueError):
    """seeds/report_recipients.csv says something wrong."""


def recipients_by_audience(path: Path = RECIPIENTS_SEED) -> dict[str, list[dict[str, str]]]:
    audiences: dict[str, list[dict[str, str]]] = {}
    for line, row in enumerate(read_rows(path), start=2):
        channel = CHANNELS.get((row.get("channel") or "").strip())
        target = (row.get("target") or "").strip()
        if channel is None or not target:
            raise RecipientError(
                f"{path.name} line {line}: channel must be email or webhook, with a target"
            )
        if channel == "Webhook" and not target.startswith("https://"):
            raise RecipientError(f"{path.name} line {line}: a webhook must be https://")
        audiences.setdefault(row["audience"].strip(), []).append(
            {"type": channel, "target": target}
        )
    return audiences


def data_stewards_mail(project_dir: Path = PROJECT_DIR) -> str | None:
    """The data stewards' first mail address: where a failing report's notice goes."""
    for recipient in recipients_by_audience(project_dir / "seeds" / "report_recipients.csv").get(
        DATA_STEWARDS, []
    ):
        if recipient["type"] == "Email":
            return recipient["target"]
    return None
