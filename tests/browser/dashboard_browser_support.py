"""Headless Chromium (Debian's, driven by Playwright) against the dashboard on a real gunicorn.

Fixtures and helpers for test_dashboard_browser.py; not a conftest.py, so that `import conftest`
elsewhere keeps meaning tests/conftest.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_demo_data import PASSWORD, Demo, seed

from hotline.settings import PROJECT_ROOT

# Debian's Chromium (what CI installs); HOTLINE_CHROMIUM names another. Without either, the
# browser Playwright itself installed (`./dev test` runs `playwright install chromium` then).
CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def demo(server) -> tuple[str, Demo]:
    """(base_url, demo) of a gunicorn whose database holds the demo hotline."""
    base_url, env, _log = server
    return base_url, seed(env)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        executable = CHROMIUM if shutil.which(CHROMIUM) else None
        if executable is None and not Path(playwright.chromium.executable_path).exists():
            pytest.fail(
                f"no Chromium: {CHROMIUM} is missing (apt-get install -y chromium, as the CI "
                "script does) and Playwright has none (python -m playwright install chromium)"
            )
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, demo) -> Iterator:
    """A fresh browser tab (own cookies) that records CSP violations and page errors."""
    context = browser.new_context(
        viewport={"width": 1360, "height": 900}, accept_downloads=True, base_url=demo[0]
    )
    tab = context.new_page()
    tab.problems = []
    # Console errors (a CSP violation is one) and failed loads, the icon's included.
    tab.on("console", lambda m: tab.problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    tab.on(
        "response",
        lambda r: tab.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    yield tab
    context.close()


@pytest.fixture
def phone(browser, demo) -> Iterator:
    """A phone-sized tab."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        base_url=demo[0],
    )
    tab = context.new_page()
    yield tab
    context.close()


def login(tab, username: str, language: str = "en") -> None:
    """Sign in through the form, in the given interface language."""
    tab.goto("/dashboard/login")
    tab.click(f"button[name=lang][value={language}]")
    tab.fill("input[name=username]", username)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button.primary")
    tab.wait_for_load_state()


def shoot(tab, name: str, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/screenshots/ (kept by CI as an artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=full_page)
    return path
