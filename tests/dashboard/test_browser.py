"""A real browser pass over the dashboard: Debian's chromium driven by Playwright.

Serves the app on the fixture database with `nudgescope dashboard`, opens every page in both
languages, checks that no Streamlit exception is shown and that Plotly charts render, records
every request the page makes and fails on any to a host other than the app's own, checks that
there is no Deploy button, changes a filter and sees a figure change, and saves one screenshot
per page and language (artifacts/screenshots/, or $NUDGESCOPE_SCREENSHOTS).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from pipelines.settings import REPO_ROOT
from tests.fixtures.dashboard.build import build

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# url path of each page (st.Page derives it from the file name) -> does it draw Plotly charts
PAGES = {
    "overview": True,
    "tradeoffs": True,
    "repayment": True,
    "conversion": True,
    "complaints": True,
    "sms_health": True,
    "sql": False,
    "data_status": True,
}


TITLES = {
    "en": {
        "overview": "Overview",
        "tradeoffs": "Messaging trade-offs",
        "repayment": "Repayment & risk",
        "conversion": "Conversion & stickiness",
        "complaints": "Complaints & opt-outs",
        "sms_health": "SMS health & compliance",
        "sql": "SQL",
        "data_status": "Data status",
    },
    "zh": {
        "overview": "总览",
        "tradeoffs": "短信权衡",
        "repayment": "还款与风险",
        "conversion": "转化与粘性",
        "complaints": "投诉与退订",
        "sms_health": "短信健康与合规",
        "sql": "SQL 查询",
        "data_status": "数据状态",
    },
}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class Requests:
    """Every request a page makes (also favicons, fonts, iframes and websockets)."""

    def __init__(self, page) -> None:
        self.urls: list[str] = []
        page.on("request", lambda r: self.urls.append(r.url))
        page.on("websocket", lambda ws: self.urls.append(ws.url))

    def external(self) -> list[str]:
        out = []
        for url in self.urls:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.hostname not in LOCAL_HOSTS:
                out.append(url)
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    db = build(tmp_path_factory.mktemp("serve") / "serve.duckdb")
    port = _free_port()
    # the fixture's rates rest on 1-8 cases: show them (default minimum 30: "too few")
    env = dict(os.environ, NUDGESCOPE_SERVE=str(db), NUDGESCOPE_MIN_DENOMINATOR="1")
    # through the real command: `nudgescope dashboard` (it execs streamlit, same process id)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "dashboard", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"streamlit did not start:\n{out[-3000:]}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    out = Path(os.environ.get("NUDGESCOPE_SCREENSHOTS", REPO_ROOT / "artifacts" / "screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _settle(page) -> None:
    """Wait until Streamlit has run the script to the end (call once the page has content)."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000
    )
    page.wait_for_timeout(200)


def _figure_data(page, index: int = 0) -> list:
    return page.evaluate(
        # _fullData holds the decoded arrays (data may still hold base64 typed arrays)
        "(i) => document.querySelectorAll('.js-plotly-plot')[i]._fullData"
        ".map(t => ({name: t.name, y: Array.from(t.y || [])}))",
        index,
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_loads_renders_and_stays_local(server, browser, shots, lang):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    requests = Requests(page)
    for path, has_charts in PAGES.items():
        started = time.monotonic()
        # the default page (overview) lives at the root URL
        url_path = "" if path == "overview" else path
        page.goto(f"{server}/{url_path}?lang={lang}", wait_until="domcontentloaded")
        page.wait_for_selector("h1", timeout=60_000)
        assert page.locator("h1").first.inner_text() == TITLES[lang][path]
        if has_charts:
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
            assert page.locator(".js-plotly-plot").count() >= 1
        else:
            page.wait_for_selector('[data-testid="stTextArea"]', timeout=30_000)
        _settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, path
        assert page.locator('[role="dialog"]').count() == 0, path  # e.g. "Page not found"
        # no Deploy button (client.toolbarMode = minimal)
        assert page.locator('[data-testid="stAppDeployButton"]').count() == 0, path
        assert page.get_by_role("button", name="Deploy").count() == 0, path
        page.screenshot(path=str(shots / f"{path}_{lang}.png"), full_page=True)
        assert (shots / f"{path}_{lang}.png").stat().st_size > 10_000
        print(f"{path} ({lang}): {time.monotonic() - started:.1f} s")
    page.wait_for_timeout(500)  # late requests (favicon, fonts)
    assert requests.urls, "no request recorded"
    assert requests.external() == [], requests.external()
    page.close()


def test_filter_change_changes_a_figure(server, browser, shots):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{server}/?lang=en", wait_until="domcontentloaded")
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    _settle(page)
    before = _figure_data(page)
    # on-time rate, all accounts: Jan 100 %, Feb 87.5 %, Mar 75 %
    assert any(t["y"] == [1.0, 0.875, 0.75] for t in before), json.dumps(before)
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="E", exact=True).click()
    page.wait_for_function(
        "() => { const p = document.querySelector('.js-plotly-plot');"
        " return p && p._fullData && p._fullData.some("
        "t => JSON.stringify(Array.from(t.y || [])) === '[0,0]'); }",
        timeout=30_000,
    )
    after = _figure_data(page)
    assert after != before
    assert page.locator('[data-testid="stException"]').count() == 0
    # the link now holds the filter: opening it in a new page shows the same view
    assert "band=E" in page.url
    page.screenshot(path=str(shots / "overview_band_E.png"), full_page=True)
    shared = browser.new_page(viewport={"width": 1400, "height": 2400})
    shared.goto(page.url, wait_until="domcontentloaded")
    shared.wait_for_function(
        "() => { const p = document.querySelector('.js-plotly-plot');"
        " return p && p._fullData && p._fullData.some("
        "t => JSON.stringify(Array.from(t.y || [])) === '[0,0]'); }",
        timeout=60_000,
    )
    shared.close()
    page.close()


def test_sql_page_in_the_browser(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{server}/sql?lang=zh", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stTextArea"]', timeout=60_000)
    _settle(page)
    area = page.locator('[data-testid="stTextArea"] textarea')
    area.fill("copy core.users to '/tmp/users.csv'")
    area.press("Control+Enter")
    page.get_by_role("button", name="运行").click()
    page.wait_for_selector('[data-testid="stAlertContentError"]', timeout=30_000)
    refusal = page.locator('[data-testid="stAlertContentError"]').inner_text()
    assert refusal.startswith("已拒绝：COPY 会读写文件"), refusal
    page.close()
