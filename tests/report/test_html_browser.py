"""The HTML report in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by Selenium. Without them these tests are skipped, and the
skip says so; `.ci/run` installs both."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import DATA, capacity_record

from pyserverbench.report.main import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.processes,
    pytest.mark.newest,  # Chromium, not a Python
    pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                       reason="no Chromium: install Debian's chromium and chromium-driver "
                              "(apt-get install chromium chromium-driver) to run the "
                              "browser tests"),
]


def _records(runs: Path) -> None:
    """Closed-loop records from the test data and a capacity section of three stacks."""
    shutil.copytree(DATA / "runs", runs)
    for stack, rates in (("uvicorn", (1000, 1020, 1040)), ("gevent", (990, 1010, 1030)),
                         ("sync", (200, 205, 210))):
        for number, rps in enumerate(rates, start=1):
            record = capacity_record(stack, 25, float(rps), number=number, bound=rps * 1.25)
            (runs / f"cap-{stack}-{number}.json").write_text(json.dumps(record))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    _records(root / "runs")
    assert main(["--runs-dir", str(root / "runs"), "--output", str(root / "README.md")]) == 0
    return root / "index.html"


@contextlib.contextmanager
def chromium() -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--no-first-run", "--disable-background-networking"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(DRIVER, popen_kw={"start_new_session": True})  # its own group
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()
        process = service.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def _open(driver, page: Path, fragment: str = "") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(page.as_uri() + fragment)
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "yes")


def _column(driver, table_id: str, index: int) -> list[str]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    return [row.find_elements(By.TAG_NAME, "td")[index].text for row in rows
            if row.is_displayed()]


def _capacity_table(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "table[id^='capacity-'][id$='-25ms']") \
        .get_attribute("id")


def test_sorting_a_capacity_table_by_its_header_orders_its_rows(report):
    from selenium.webdriver.common.by import By

    with chromium() as driver:
        _open(driver, report)
        table = _capacity_table(driver)
        header = driver.find_element(By.CSS_SELECTOR, f"#{table} th button[data-col='2']")
        assert header.text == "Capacity (req/s)"
        header.click()
        assert _column(driver, table, 2) == ["205", "1,010", "1,020"]  # ascending
        header.click()
        assert _column(driver, table, 2) == ["1,020", "1,010", "205"]
        assert f"sort={table}%3A2%3Adescending" in driver.current_url.replace(":", "%3A")


def test_a_permalink_opens_the_same_filtered_and_sorted_view(report, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with chromium() as driver:
        _open(driver, report)
        table = _capacity_table(driver)
        Select(driver.find_element(By.ID, "latency")).select_by_value("25")
        Select(driver.find_element(By.ID, "stack")).select_by_value("gevent")
        driver.find_element(By.CSS_SELECTOR, f"#{table} th button[data-col='2']").click()
        link = driver.current_url
        assert "latency=25" in link and "stack=gevent" in link
    with chromium() as driver:
        _open(driver, report, "#" + link.split("#", 1)[1])
        assert Select(driver.find_element(By.ID, "latency")).first_selected_option \
            .get_attribute("value") == "25"
        assert _column(driver, table, 1) == ["gevent"]  # the other stacks are filtered out
        shown = [part.get_attribute("data-latency") for part in
                 driver.find_elements(By.CSS_SELECTOR, ".part") if part.is_displayed()]
        assert shown and set(shown) == {"25"}  # the 0 ms sections are hidden
        sorted_th = driver.find_element(By.CSS_SELECTOR, f"#{table} th[aria-sort='ascending']")
        assert sorted_th.text.startswith("Capacity (req/s)")
        driver.save_screenshot(str(tmp_path / "filtered.png"))
    assert (tmp_path / "filtered.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nothing_is_fetched_and_the_console_shows_no_error(report, tmp_path):
    with chromium() as driver:
        _open(driver, report)
        driver.save_screenshot(str(tmp_path / "first.png"))
        requested = set()
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                requested.add(message["params"]["request"]["url"])
        problems = [entry for entry in driver.get_log("browser")
                    if entry["level"] in ("SEVERE", "WARNING")]
    assert requested and all(url.startswith(("file://", "data:")) for url in requested)
    assert problems == []
    assert (tmp_path / "first.png").stat().st_size > 10_000
