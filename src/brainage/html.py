"""The HTML pages brainage writes: offline, no scripts, one stylesheet, from jinja2 templates
(``brainage/templates``) with autoescape, so a subject id or a warning is text, never markup.

A page's template extends ``page.html`` and fills its ``body`` block; :func:`write_template`
renders it. HTML that brainage builds itself (a pandas table, the links below) goes in through
:func:`trusted`; everything else is escaped.

Example:
    >>> text = render("page.html", title="QC", body="<script>")
    >>> text.startswith("<!doctype html>") and "<title>brainage: QC</title>" in text
    True
    >>> "&lt;script&gt;" in text and "<script>" not in text
    True
"""

from __future__ import annotations

import os
from functools import lru_cache
from html import escape
from pathlib import Path

from brainage.files import write_text

STYLE = """body{font-family:sans-serif;margin:1.5em;max-width:1400px}
pre{white-space:pre-wrap;overflow-wrap:anywhere}
table{border-collapse:collapse;font-size:13px;display:block;overflow-x:auto;max-width:100%}
td,th{border:1px solid #ccc;padding:3px 8px;vertical-align:top}
th{background:#eee;position:sticky;top:0} img.thumb{height:90px}
.v{font-weight:bold;color:white;padding:2px 6px;border-radius:3px} .note{color:#555}
.warning{color:#b00000;font-weight:bold}"""


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("brainage", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,  # a context name misspelt fails the page, not blanks it
        keep_trailing_newline=True,
    )


def render(template: str, **context) -> str:
    """``template`` (a file of ``brainage/templates``) rendered with ``context``; strings are
    escaped unless marked safe (:func:`trusted`)."""
    return _environment().get_template(template).render(style=STYLE, **context)


def trusted(markup: str):
    """HTML brainage built itself (a table from pandas, links from :func:`file_links`), inserted
    into a template as it is."""
    from markupsafe import Markup

    return Markup(markup)


def write_template(path: str | Path, page: str, title: str, **context) -> Path:
    """Render the template of ``page`` (``templates/<page>.html``) with ``title`` and ``context``
    and write it atomically; returns the path."""
    return write_text(path, render(f"{page}.html", title=title, **context))


def image_links(paths: list[Path], relative_to: Path, height: int | None = 330) -> str:
    """HTML (a plain string: into a template through :func:`trusted`) of thumbnails that open the
    full picture, with paths relative to the page's folder;
    ``height=None``: each picture at its own size, narrowed only to fit the page."""
    size = f"height:{height}px" if height else "max-width:100%"
    links = []
    for p in paths:
        rel = escape(Path(p).relative_to(relative_to).as_posix())
        links.append(f'<a href="{rel}"><img src="{rel}" style="{size};margin:4px"></a>')
    return "".join(links)


def file_links(files: list[tuple[Path, str]], relative_to: Path) -> str:
    """Links labelled ``label`` to those of ``files`` that exist, relative to the page's folder, separated
    by middots."""
    return " · ".join(
        f'<a href="{escape(os.path.relpath(path, relative_to))}">{escape(label)}</a>'
        for path, label in files
        if Path(path).is_file()
    )
