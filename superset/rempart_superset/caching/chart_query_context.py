"""A chart written without a query context gets the one Superset's Explore page would save.

Superset's endpoint for a saved chart's data (`GET /api/v1/chart/<id>/data/`), which reports,
alerts, CSV attachments, thumbnails and API clients use, answers only from the query context
the Explore page saves beside the chart's form data. Rempart's charts come from files
(`superset/assets/`, form data reviewed in pull requests) and carry none: a query context
names its dataset by the id it has in one Superset, which no file can know.

So when a chart is written without one, its query context is built from its form data by
Superset's own Python port of the front end's query builders (the one its chart migrations use
to rebuild query contexts): the time-series builder for time-series charts, the generic one
(the metrics, columns, filters and order of the form data) for the others. The form data stays
the only source: an edited chart is imported without a query context and gets a new one, so
the two cannot drift. Charts saved with a query context (from Explore) are left as they are.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import event

logger = logging.getLogger(__name__)

TIMESERIES_TYPES = {
    "echarts_area",
    "echarts_timeseries",
    "echarts_timeseries_bar",
    "echarts_timeseries_line",
    "echarts_timeseries_scatter",
    "echarts_timeseries_smooth",
    "echarts_timeseries_step",
}


def query_context_of(chart: Any) -> dict[str, Any]:
    """The query context for this chart's form data."""
    from superset.migrations.shared.migrate_viz.processors import TimeseriesChart
    from superset.migrations.shared.migrate_viz.query_functions import build_query_context

    form_data = json.loads(chart.params or "{}")
    form_data["datasource"] = f"{chart.datasource_id}__{chart.datasource_type}"
    form_data["viz_type"] = chart.viz_type
    if chart.viz_type in TIMESERIES_TYPES:
        return TimeseriesChart(json.dumps(form_data))._build_query()
    return build_query_context(form_data)


def _complete(_mapper: Any, _connection: Any, chart: Any) -> None:
    if chart.query_context or chart.datasource_id is None:
        return
    try:
        chart.query_context = json.dumps(query_context_of(chart))
    except Exception:  # the chart is still saved; its data API says it has no query context
        logger.exception("no query context could be built for chart %s", chart.slice_name)


def install() -> None:
    """Charts inserted or updated without a query context get one (once per process)."""
    from superset.models.slice import Slice

    for moment in ("before_insert", "before_update"):
        if not event.contains(Slice, moment, _complete):
            event.listen(Slice, moment, _complete)
