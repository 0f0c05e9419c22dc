"""`rempart metrics`: what an operator watches, in Prometheus's text format, read from the
database at every scrape (nothing is counted in this process, so a restart loses nothing).

Per source (the source kinds of `seeds/source_kinds.csv`, and `unclassified`): files by
status, rows landed, rows rejected by reason, the age of its newest file and the cadence it
declared. Per run (the audit trail's `pipeline_run` events): how many by outcome, and the
last one's duration, outcome and failed tests. The last publication of the marts. Superset's
request latency and chart-data cache hits, which its processes count in Redis.

Served on 127.0.0.1 only; with `REMPART_METRICS_TOKEN=true`, a scrape must carry the bearer
token `metrics_token` of the secrets store.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from flows.runtime.database import connection_info
from flows.runtime.secrets import SecretStore
from flows.runtime.settings import Settings
from flows.superset.answer_cache import TIMING_BUCKETS_MS, superset_figures

FILES_SQL = """
select coalesce(source_kind, 'unclassified'), file_status, count(*),
       coalesce(sum(landed_row_count), 0),
       extract(epoch from now() - max(received_at))
from intermediate.int_files_classified
group by 1, 2
"""
REJECTED_SQL = """
select source_kind, rejection_reason, count(*) from marts.dq_rejected_rows group by 1, 2
"""
CADENCE_SQL = "select source_kind, expected_every_days::float from seeds.source_kinds"
RUNS_SQL = """
select details ->> 'outcome', count(*) from audit.events
where action = 'pipeline_run' group by 1
"""
LAST_RUN_SQL = """
select details ->> 'outcome', (details ->> 'seconds')::float,
       coalesce((details -> 'build' ->> 'tests_failed')::int, 0),
       extract(epoch from occurred_at)
from audit.events where action = 'pipeline_run' order by event_id desc limit 1
"""
PUBLISHED_SQL = """
select extract(epoch from max(published_at)) from intermediate.rempart_publications
"""
OUTCOMES = ("success", "files_rejected", "build_failed", "error")


def _exists(conn, relation: str) -> bool:  # noqa: ANN001
    return conn.execute("select to_regclass(%s)", (relation,)).fetchone()[0] is not None


class WarehouseCollector:
    """Reads every figure afresh when Prometheus scrapes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> list:
        return []  # figures come from the database at each scrape: nothing to pre-register

    def collect(self) -> Iterator[GaugeMetricFamily]:
        files = GaugeMetricFamily(
            "rempart_source_files",
            "Files received, by source and status.",
            labels=["source", "status"],
        )
        rows = GaugeMetricFamily(
            "rempart_source_rows_landed", "Data rows landed, by source.", labels=["source"]
        )
        rejected = GaugeMetricFamily(
            "rempart_source_rows_rejected",
            "Landed rows that could not become a KPI value, by source and reason (published).",
            labels=["source", "reason"],
        )
        age = GaugeMetricFamily(
            "rempart_source_last_file_age_seconds",
            "Time since the source's newest file was received.",
            labels=["source"],
        )
        cadence = GaugeMetricFamily(
            "rempart_source_expected_every_seconds",
            "How often the source declared it sends a file (seeds/source_kinds.csv).",
            labels=["source"],
        )
        runs = GaugeMetricFamily(
            "rempart_runs",
            "Pipeline runs recorded in the audit trail, by outcome.",
            labels=["outcome"],
        )
        last_duration = GaugeMetricFamily(
            "rempart_last_run_duration_seconds", "Duration of the last pipeline run."
        )
        last_outcome = GaugeMetricFamily(
            "rempart_last_run_outcome",
            "1 for the outcome of the last pipeline run, 0 for the others.",
            labels=["outcome"],
        )
        last_failed = GaugeMetricFamily(
            "rempart_last_run_tests_failed", "Data tests the last pipeline run failed."
        )
        last_run = GaugeMetricFamily(
            "rempart_last_run_timestamp_seconds", "When the last pipeline run ended (Unix time)."
        )
        published = GaugeMetricFamily(
            "rempart_last_publish_timestamp_seconds",
            "When the marts were last published (Unix time).",
        )
        with connection_info(self.settings).connect() as conn:
            newest: dict[str, float] = {}
            landed: dict[str, float] = {}
            if _exists(conn, "intermediate.int_files_classified"):
                for source, status, count, row_count, seconds in conn.execute(FILES_SQL):
                    files.add_metric([source, status], count)
                    landed[source] = landed.get(source, 0) + float(row_count)
                    if seconds is not None:
                        newest[source] = min(newest.get(source, float(seconds)), float(seconds))
            for source, value in sorted(landed.items()):
                rows.add_metric([source], value)
            for source, seconds in sorted(newest.items()):
                age.add_metric([source], seconds)
            if _exists(conn, "marts.dq_rejected_rows"):
                for source, reason, count in conn.execute(REJECTED_SQL):
                    rejected.add_metric([source, reason], count)
            if _exists(conn, "seeds.source_kinds"):
                for source, days in conn.execute(CADENCE_SQL):
                    cadence.add_metric([source], days * 86400)
            counted = dict(conn.execute(RUNS_SQL).fetchall())
            for outcome in sorted(set(OUTCOMES) | set(counted)):
                runs.add_metric([outcome], counted.get(outcome, 0))
            last = conn.execute(LAST_RUN_SQL).fetchone()
            if last:
                outcome, seconds, failed, ended = last
                last_duration.add_metric([], seconds or 0)
                for known in sorted(set(OUTCOMES) | {outcome}):
                    last_outcome.add_metric([known], 1 if known == outcome else 0)
                last_failed.add_metric([], failed)
                last_run.add_metric([], float(ended))
            if _exists(conn, "intermediate.rempart_publications"):
                (when,) = conn.execute(PUBLISHED_SQL).fetchone()
                if when is not None:
                    published.add_metric([], float(when))
        yield from (files, rows, rejected, age, cadence, runs)
        yield from (last_duration, last_outcome, last_failed, last_run, published)


class SupersetCollector:
    """Superset's request latency per REST endpoint and its chart-data cache, as all of its
    processes recorded them in Redis (rempart_superset/caching/redis_state.py)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        counters, timings = superset_figures(self.settings)
        latency = HistogramMetricFamily(
            "rempart_superset_request_duration_seconds",
            "Time Superset took to answer its REST API, by endpoint.",
            labels=["endpoint"],
        )
        for key, figures in sorted(timings.items()):
            if not key.endswith(".time"):
                continue
            cumulative, buckets = 0.0, []
            for bound in TIMING_BUCKETS_MS:
                cumulative += figures.get(f"le_{bound}", 0)
                buckets.append((str(bound / 1000), cumulative))
            buckets.append(("+Inf", figures.get("count", 0)))
            latency.add_metric(
                [key.removesuffix(".time")], buckets, figures.get("sum_ms", 0) / 1000
            )
        lookups = CounterMetricFamily(
            "rempart_superset_chart_cache_lookups",
            "Chart-data queries answered from the cache (hit) or by the warehouse (miss).",
            labels=["result"],
        )
        hits, misses = counters.get("loaded_from_cache", 0), counters.get("loaded_from_source", 0)
        lookups.add_metric(["hit"], hits)
        lookups.add_metric(["miss"], misses)
        ratio = GaugeMetricFamily(
            "rempart_superset_chart_cache_hit_ratio",
            "Share of chart-data queries answered from the cache since Redis started.",
        )
        if hits + misses:
            ratio.add_metric([], hits / (hits + misses))
        yield from (latency, lookups, ratio)


def exposition(settings: Settings) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WarehouseCollector(settings))
    registry.register(SupersetCollector(settings))
    return generate_latest(registry)


def serve(settings: Settings, port: int, announce: Callable[[str], None] = print) -> None:
    """Serve until interrupted; `announce` hears the address once it listens."""
    token = (
        SecretStore(settings.secrets_dir).get("metrics_token") if settings.metrics_token else None
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            if token is not None:
                given = self.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    self.send_error(401, "a bearer token is required")
                    return
            try:
                body = exposition(settings)
            except Exception as error:  # the database is down: say so, keep serving
                self.send_error(503, f"the warehouse cannot be read: {type(error).__name__}")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # a scrape every 15 s is not news

    server = ThreadingHTTPServer((settings.listen_host, port), Handler)
    announce(f"http://{settings.listen_host}:{port}/metrics")
    try:
        server.serve_forever()
    finally:
        server.server_close()
