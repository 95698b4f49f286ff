"""The shell of every HTML page brainage writes: offline, no scripts, one stylesheet.

Example:
    >>> text = page("QC", "<p>hello</p>")
    >>> text.startswith("<!doctype html>") and "<title>brainage: QC</title>" in text
    True
"""

from __future__ import annotations

import os
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


def page(title: str, body: str, style: str = "") -> str:
    """A complete page: ``body`` is trusted HTML; ``title`` is escaped."""
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>brainage: {escape(title)}</title>'
        f"<style>{STYLE}{style}</style></head><body>\n{body}\n</body></html>\n"
    )


def write_page(path: str | Path, title: str, body: str, style: str = "") -> Path:
    """Write :func:`page` atomically; returns the path."""
    return write_text(path, page(title, body, style))


def image_links(paths: list[Path], relative_to: Path, height: int | None = 330) -> str:
    """Thumbnails that open the full picture, with paths relative to the page's folder;
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
