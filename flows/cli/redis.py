"""`rempart redis start|stop|status`: the Redis that Superset's processes share."""

from __future__ import annotations

import argparse

from flows.cli.common import CommandError
from flows.runtime.settings import Settings


def start(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.runtime.valkey import EmbeddedRedis, RedisError, status

    try:
        if settings.redis.url:
            found = status(settings)
            if not found.running:
                raise CommandError(found.detail)
            print(f"{found.detail}; nothing to start")
            return 0
        print(EmbeddedRedis(settings).start())
    except RedisError as error:
        raise CommandError(str(error)) from error
    return 0


def stop(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.runtime.valkey import EmbeddedRedis

    if settings.redis.url:
        print("REMPART_REDIS_URL is set: the external server is not ours to stop")
        return 0
    print(EmbeddedRedis(settings).stop())
    return 0


def show_status(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.runtime.valkey import status

    found = status(settings)
    print(f"redis: {found.detail}")
    return 0 if found.running else 1


def register(commands: argparse._SubParsersAction) -> None:
    redis = commands.add_parser(
        "redis", help="the Redis shared by Superset's processes: start, stop, status"
    )
    actions = redis.add_subparsers(dest="redis_command", required=True, metavar="ACTION")
    actions.add_parser(
        "start", help="start the embedded Valkey server (harmless if running)"
    ).set_defaults(run=start)
    actions.add_parser("stop", help="stop the embedded Valkey server").set_defaults(run=stop)
    actions.add_parser(
        "status", help="say whether Redis answers, and what it is (exit 1 if not)"
    ).set_defaults(run=show_status)
