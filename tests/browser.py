"""Pages in a real browser: Playwright driving Debian's Chromium (no browser download).

``browser`` (a fixture in ``tests/conftest.py``) skips with the reason where either is missing;
``.ci/run`` installs Chromium. :func:`page_problems` loads one HTML page the way a scientist opens
it (a file on disk, a 1400 px window) and lists what would make it untrustworthy.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM = Path("/usr/bin/chromium")
#: Headless WebGL through SwiftShader; `--use-gl=swiftshader` does not work with this Chromium.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH = 1400
#: Text smaller than this (CSS px) cannot be read on a laptop screen.
MIN_FONT_PX = 9

_INSPECT = (
    """() => {
  const texts = [...document.querySelectorAll('body *')].filter(e => [...e.childNodes].some(
      n => n.nodeType === 3 && n.textContent.trim()));
  return {
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    broken_images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
        .map(i => i.getAttribute('src')),
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    tiny_text: texts.filter(e => parseFloat(getComputedStyle(e).fontSize) < %d)
        .map(e => e.textContent.trim().slice(0, 40)),
  };
}"""
    % MIN_FONT_PX
)


def page_problems(browser, path: Path) -> list[str]:
    """What is wrong with the page at ``path``: horizontal overflow at 1400 px, images that do not
    load, links to files that do not exist, unreadably small text. Empty when the page is sound."""
    page = browser.new_page()
    try:
        page.goto(path.resolve().as_uri(), wait_until="load")
        found = page.evaluate(_INSPECT)
    finally:
        page.close()
    problems, where = [], "/".join(path.parts[-2:])
    if found["overflow"] > 0:
        problems.append(f"{where}: {found['overflow']} px wider than a {WIDTH} px window")
    problems += [f"{where}: image does not load: {src}" for src in found["broken_images"]]
    for href in found["links"]:
        target = urlparse(href)
        if target.scheme or target.netloc or not target.path:  # web links, in-page anchors
            continue
        if not (path.parent / unquote(target.path)).exists():
            problems.append(f"{where}: broken link: {href}")
    problems += [f"{where}: text smaller than {MIN_FONT_PX} px: {text!r}" for text in found["tiny_text"]]
    return problems


def linked_pages(index: Path) -> list[Path]:
    """The HTML pages ``index`` links to (relative links only), in order, each once."""
    import re

    pages = []
    for href in re.findall(r'href="([^"#]+\.html)"', index.read_text()):
        path = (index.parent / unquote(href)).resolve()
        if not urlparse(href).scheme and path not in pages:
            pages.append(path)
    return pages
