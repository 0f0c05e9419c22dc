"""Rempart's versions of the templates Superset leaves for deployments to fill.

Superset's pages include `head_custom_extra.html` (empty in Superset); Rempart's version,
in rempart_superset/templates/page/, is found first.
"""

from pathlib import Path

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader

PAGE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "page"


def install(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(PAGE_TEMPLATES)), app.jinja_loader])
