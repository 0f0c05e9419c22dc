"""Rempart's pipeline side: the `rempart` command, the Prefect flows and what they run.

One package per responsibility, listed from the top down. Imports point down this map, never
up (`make lint` checks it with import-linter, contracts in pyproject.toml); everything may
import `loaders`, which imports nothing of `flows`.

    cli/            the `rempart` command, one module per command group; the run loop, its
                    summary and exit codes, `watch`
    maintenance.py  the nightly Prefect flow: backup, verification, rotation, retention
    pipeline.py     the Prefect flow `rempart_pipeline` and its tasks: land, build, publish, sync
    keys/           export and import of the secrets store, rotation of keys and passwords
    backup/         encrypted backup sets: create, verify, restore, rotate   } side by side:
    uploads/        the upload page and API                                  } none imports
    metrics.py      Prometheus metrics                                       } the others
    privacy/        personal data: register, subject access, erasure, retention
    superset/       Superset's lifecycle and accounts, the sync, alerts and reports, the
                    answer cache
    warehouse/      provisioning, landing, build state, publication, the run's audit
    seeds/          the one reader of the seeds: departments, recipients, the suggestion
    runtime/        settings, the embedded PostgreSQL and Valkey, the supervisor, Prefect's
                    API, the tools' environment, the secrets store
    names.py        names the pipeline, dbt and Superset share (roles, prefixes, schemas)
"""
