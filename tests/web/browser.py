"""Headless Debian Chromium driven by Selenium, for the console's browser tests.

Not a test module. Selenium Manager never runs: the driver is /usr/bin/chromedriver (or
$CHROMEDRIVER) and the browser /usr/bin/chromium (or $CHROMIUM), given explicitly, and
SE_OFFLINE is set, so nothing is downloaded. Without them the tests are skipped with a
printed reason, except under CI=true, where that fails.

Selenium is synchronous and the receiver under test runs on the test's event loop, so
every browser call goes through a thread (`await b.call(fn, …)`).

Screenshots go to build/screenshots/ (an artifact of every run); with UPDATE_SCREENSHOTS=1
they are also written to docs/screenshots/, which the README links.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import ROOT
from tests.helpers import skip_unless_ci

SIZE = (1280, 800)
ARTIFACTS = ROOT / "build" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
T = TypeVar("T")


def require_browser() -> tuple[str, str]:
    """(chromium, chromedriver) paths; skips (or fails under CI=true) when either is
    missing or Selenium is not installed."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or ""
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or ""
    missing = [n for n, p in (("chromium", chromium), ("chromedriver", driver)) if not p]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip: the dev extras)")
    if missing:
        skip_unless_ci(f"{' and '.join(missing)} not found (Debian: apt-get install chromium "
                       "chromium-driver)")  # fmt: skip
    return chromium, driver


class Browser:
    """One headless Chromium session; its methods run in a thread."""

    def __init__(self, chromium: str, driver: str) -> None:
        os.environ.setdefault("SE_OFFLINE", "true")
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", f"--window-size={SIZE[0]},{SIZE[1]}",
                    "--no-first-run", "--disable-extensions", "--lang=en-US"):  # fmt: skip
            opts.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
        self.driver.set_page_load_timeout(30)
        # The page itself at SIZE (the window's size would include the browser's frame).
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": SIZE[0], "height": SIZE[1], "deviceScaleFactor": 1, "mobile": False},
        )

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def get(self, url: str) -> None:
        await self.call(self.driver.get, url)

    async def fresh(self) -> None:
        """Forget every cookie (each test's server is a new origin port on 127.0.0.1, and
        cookies are per host, not per port)."""
        await self.call(self.driver.execute_cdp_cmd, "Network.clearBrowserCookies", {})

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    async def text(self, css: str = "body") -> str:
        return str(await self.call(lambda: self.find(css).text))

    async def type_into(self, css: str, value: str) -> None:
        await self.call(lambda: self.find(css).send_keys(value))

    async def click(self, css: str, navigates: bool = True) -> None:
        """Click `css`; a click that navigates (a link, a form's submit) returns once the
        next page has loaded, so what is read next is that page, not the old one (whose
        elements go stale under the reader)."""
        await self.call(self._click, css, navigates)

    def _click(self, css: str, navigates: bool) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        old = self.driver.find_element(By.TAG_NAME, "html")
        self.find(css).click()
        if navigates:
            wait = WebDriverWait(self.driver, 20)
            wait.until(ec.staleness_of(old))
            wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    async def url(self) -> str:
        return str(await self.call(lambda: self.driver.current_url))

    def dialog_open(self) -> bool:
        """Whether a JavaScript alert()/confirm() dialog is showing."""
        from selenium.common.exceptions import NoAlertPresentException

        try:
            _ = self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return False
        return True

    async def login(self, base: str, token: str) -> None:
        await self.get(base + "/login")
        await self.type_into("#token", token)
        await self.click("#login")

    async def screenshot(self, name: str) -> Path:
        """A PNG of the page as shown (1280x800) in build/screenshots/ (and docs/)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.call(self.driver.save_screenshot, str(path))
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / path.name)
        return path

    def quit(self) -> None:
        self.driver.quit()
