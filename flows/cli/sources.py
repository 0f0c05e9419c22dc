"""`rempart sources suggest FILE [--write]`: declare a new source by seed lines."""

from __future__ import annotations

import argparse

from flows.cli.common import CommandError, needs_database
from flows.runtime.settings import Settings


@needs_database
def suggest(settings: Settings, arguments: argparse.Namespace) -> int:
    from flows.seeds.suggestion import SuggestionError, write
    from flows.seeds.suggestion import suggest as make_suggestion

    try:
        suggestion = make_suggestion(settings, arguments.file, arguments.department)
    except SuggestionError as error:
        raise CommandError(str(error)) from error
    print(
        f"# source {suggestion.source_kind}: a {suggestion.layout} file, read by the generic "
        "parsing (no model to write)"
    )
    print(suggestion.as_text(), end="")
    if arguments.write:
        for path in write(settings, suggestion):
            print(f"appended to {path.relative_to(settings.project_dir)}")
        print("review them (git diff seeds/), then `rempart run` reads the file")
    else:
        print("# --write appends these lines to the seed files")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    sources = commands.add_parser("sources", help="the sources of files (seeds/source_kinds.csv)")
    actions = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")
    suggesting = actions.add_parser(
        "suggest",
        help="print the seed lines that would declare the source of a landed file that no "
        "source claims (marts.dq_unclassified_files)",
    )
    suggesting.add_argument("file", help="the landed file's name, or a copy of the file")
    suggesting.add_argument(
        "--department",
        help="the department the source belongs to (its uploaders; the department of rows "
        "when the file has no department column)",
    )
    suggesting.add_argument(
        "--write", action="store_true", help="append the lines to the seed files (then review)"
    )
    suggesting.set_defaults(run=suggest)
