"""The web desk in a real browser: headless Chromium (Debian's chromium + chromium-driver) through Selenium,
against `influbot web` and a user on `influbot chat --json`, both real processes on one temporary database.

Screenshots of the queue and the figures page are saved under tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
PASSWORD = "correct horse battery"
XSS = "<script>alert('x')</script><b>vet</b> vraag over mijn contract"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="no headless browser here: install Debian's `chromium` and `chromium-driver` (apt-get install -y chromium "
        "chromium-driver; .ci/run does) to run the web desk's browser tests",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChatUser:
    """A user on `influbot chat --json`: one JSON line in, one JSON line out."""

    def __init__(self, env: dict[str, str], user: str):
        self.user = user
        self.proc = subprocess.Popen(
            [str(BIN / "influbot"), "chat", "--json"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )

    def say(self, text: str) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"user": self.user, "text": text}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def desk_server(tmp_path):
    env = {**os.environ, "INFLUBOT_DB": str(tmp_path / "desk.db"), "INFLUBOT_OVERDUE_MINUTES": "60"}
    subprocess.run([str(BIN / "influbot"), "moderator", "add", "anna"], input=PASSWORD + "\n", text=True, env=env, check=True)
    port = free_port()
    server = subprocess.Popen([str(BIN / "influbot"), "web", "--port", str(port)], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else "influbot web exited"
        assert time.monotonic() < deadline, "influbot web did not start"
        time.sleep(0.2)
    yield url, env
    server.terminate()
    server.wait(timeout=15)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=DriverService(executable_path=DRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait_for(driver, condition, seconds: float = 15.0):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)  # a page may be mid-navigation
    return WebDriverWait(driver, seconds, poll_frequency=0.2, ignored_exceptions=ignored).until(condition)


def test_moderator_sees_a_console_case_live_replies_and_closes(desk_server, browser):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    url, env = desk_server
    ARTIFACTS.mkdir(exist_ok=True)

    browser.get(f"{url}/figures")
    assert browser.current_url.endswith("/login"), "logged out, a page sends you to the login"
    browser.find_element(By.ID, "name").send_keys("anna")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "queue-rows"))
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-case]")
    cookie = browser.get_cookie("influbot_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    user = ChatUser(env, "lotte")
    try:
        user.say("/mens")
        opened = user.say(XSS)
        assert opened["handoff"]["status"] == "opened"
        # the queue page was loaded before the case existed: the row arrives by polling, without a reload
        row = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "tr[data-case]"))[0]
        assert "<script>alert('x')</script>" in row.text, "user HTML shows as text"
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 - no script ran
        browser.save_screenshot(str(ARTIFACTS / "web-queue.png"))

        row.find_element(By.CSS_SELECTOR, "a").click()
        wait_for(browser, lambda d: d.find_elements(By.ID, "reply-text"))
        assert "<b>vet</b>" in browser.find_element(By.ID, "transcript").text
        assert not browser.find_elements(By.CSS_SELECTOR, "#transcript b, #transcript script")
        browser.find_element(By.ID, "reply-text").send_keys("Hoi Lotte, ik help je verder met je contract.")
        browser.find_element(By.ID, "send").click()
        wait_for(browser, lambda d: d.find_elements(By.ID, "note"))
        assert browser.find_element(By.ID, "case-status").text == "opgenomen · anna", "a reply claims the case"

        later = user.say("dank je")
        relayed = later.get("relayed", [])
        assert len(relayed) == 1 and "Hoi Lotte, ik help je verder met je contract." in relayed[0]
        assert "relayed" not in user.say("nog iets"), "the reply arrives once"
        wait_for(browser, lambda d: "nog iets" in d.find_element(By.ID, "transcript").text)  # the user's words, live

        browser.find_element(By.ID, "btn-close").click()
        # the reply's note is still on the page: wait for the closed status, not just for a note
        wait_for(browser, lambda d: d.find_element(By.ID, "case-status").text.startswith("gesloten"))
        after = user.say("hallo?")
        assert after.get("relayed"), "the user is told the conversation was closed"
        assert not after.get("handoff") or after["handoff"]["status"] != "relayed"
    finally:
        user.stop()

    browser.set_window_size(1280, 1900)  # the whole figures page in one picture
    browser.get(f"{url}/figures")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".chart svg"))
    assert "Hoi Lotte" not in browser.page_source and "contract" not in browser.page_source
    browser.save_screenshot(str(ARTIFACTS / "web-figures.png"))
    browser.get(f"{url}/?status=all")
    browser.save_screenshot(str(ARTIFACTS / "web-queue-all.png"))
