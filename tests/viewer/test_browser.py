"""The viewer in a real browser: Playwright driving Debian's Chromium (no browser download)."""

import shutil
from pathlib import Path

import numpy as np

from brainage.viewer.server import serve_in_thread


def _non_black_fraction(png: bytes) -> float:
    import io

    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    return float((pixels.sum(axis=2) > 30).mean())


def test_render_rate_reload_export(browser, qc_dataset, tmp_path):
    server, url = serve_in_thread(qc_dataset.root)
    try:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("window.brainageViewer && window.brainageViewer.loaded >= 1", timeout=60000)
        page.wait_for_timeout(1500)
        assert _non_black_fraction(page.locator("#gl").screenshot()) > 0.02, "the volume did not render"
        page.fill("#rater", "ana")
        page.locator("body").click(position={"x": 5, "y": 790})
        for key in ("f", "p", "u"):  # each rating saves and moves to the next subject
            page.keyboard.press(key)
            page.wait_for_timeout(700)
        assert page.locator(".item").nth(2).inner_text().endswith("unsure")
        page.screenshot(path=str(tmp_path / "viewer.png"))
        page.reload()
        page.wait_for_function("window.brainageViewer && window.brainageViewer.loaded >= 1", timeout=60000)
        items = [page.locator(".item").nth(i).inner_text() for i in range(3)]
        assert [t.split()[-1] for t in items] == ["fail", "pass", "unsure"]
        assert page.input_value("#rater") == "ana"
        export = page.request.get(f"{url}/api/qc_ratings.csv").text()
        assert export.count("\n") == 4 and "sub-001,ana,fail" in export
        shots = Path(__file__).resolve().parents[2] / "docs"
        if shots.is_dir() and __import__("os").environ.get("BRAINAGE_SCREENSHOT"):
            shutil.copy(tmp_path / "viewer.png", shots / "viewer.png")
    finally:
        server.shutdown()
        server.server_close()


def test_keys_pressed_during_a_slow_save_rate_the_scans_in_order(browser, qc_dataset, monkeypatch):
    """A server that takes 0.6 s to save a rating, and ratings typed 0.1 s apart: each key must rate
    the next scan, in order, never overwrite the previous one (the race a loaded CI machine hit)."""
    import time

    from brainage.viewer.server import Handler

    slow_post = Handler.do_POST

    def delayed(self):
        time.sleep(0.6)
        return slow_post(self)

    monkeypatch.setattr(Handler, "do_POST", delayed)
    server, url = serve_in_thread(qc_dataset.root)
    try:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("window.brainageViewer && window.brainageViewer.loaded >= 1", timeout=60000)
        page.fill("#rater", "ana")
        page.locator("body").click(position={"x": 5, "y": 790})
        for key in ("f", "p", "u"):
            page.keyboard.press(key)
            page.wait_for_timeout(100)
        page.wait_for_function("document.querySelectorAll('.item')[2].innerText.endsWith('unsure')", timeout=30000)
        page.wait_for_timeout(700)
        export = page.request.get(f"{url}/api/qc_ratings.csv").text()
        rated = {line.split(",")[0]: line.split(",")[2] for line in export.strip().splitlines()[1:]}
        assert export.count("\n") == 4, export
        assert rated == {"sub-001": "fail", "sub-002": "pass", "sub-003": "unsure"}, export
    finally:
        server.shutdown()
        server.server_close()
