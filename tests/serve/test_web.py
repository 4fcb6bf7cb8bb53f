"""The web page of ``docrag serve``, end to end in headless Chromium: create a knowledge base, upload a PDF and a
Chinese text file through the file input, follow the ingest job, ask, click a citation and see the cited passage
highlighted on the PDF page (or in the text). Screenshots of each step go to tests/artifacts/; the one of the
highlighted page becomes docs/images/web-page.png (for the README) when that is missing or when run with
DOCRAG_README_IMAGES=1, so that a test run leaves the checkout as it was."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from docrag.serve.state import ServerState

pytest.importorskip("fastapi", reason="the server needs docrag[serve]")
pytest.importorskip("selenium", reason="the web page's test drives Chromium with selenium (docrag[dev])")
pytest_plugins = ["live_server"]  # live servers: tests/live_server.py

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"
README_IMAGE = ROOT / "docs" / "images" / "web-page.png"

TEA = ("Longjing Tea Report", "The Longjing tea harvest of 2023 reached 1200 tonnes, most of it picked before the "
       "Qingming festival, when the leaves are small and tender and the price is highest. The gardens around the West "
       "Lake in Hangzhou give the most prized leaves, and a kilogram of them sold for more than 5000 yuan.")
PANDA = "成都大熊猫繁育研究基地位于成都市北郊的斧头山，每年接待游客超过五百万人次。\n\n基地里生活着一百多只大熊猫。\n"


@pytest.fixture
def browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"no headless Chromium ({', '.join(missing)} missing): apt-get install chromium chromium-driver "
                    "(`make test` does, as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1360,900",
                "--lang=en-US", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


class Page:
    def __init__(self, driver, timeout: float = 20):
        self.driver, self.timeout = driver, timeout
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait(self, condition, message: str):
        try:
            return WebDriverWait(self.driver, self.timeout).until(lambda d: condition(), message)
        except TimeoutException:  # what the page showed, and said in its console, helps more than the timeout
            self.shot("failure")
            raise AssertionError(f"{message}; console: {self.driver.get_log('browser')}; page: "
                                 f"{self.find('body').text[:2000]}") from None

    def wait_for(self, css: str):
        return self.wait(lambda: next((e for e in self.all(css) if e.is_displayed()), None), f"nothing shows {css}")

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def shot(self, name: str) -> Path:
        path = ARTIFACTS / f"web-{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def ask(self, question: str):
        turns = len(self.all(".turn"))
        box = self.find("#question")
        box.clear()
        box.send_keys(question)
        self.find("#ask-button").click()
        self.wait(lambda: len(self.all(".turn")) == turns + 1 and self.all(".turn")[-1].find_elements(
            By.CSS_SELECTOR, ".answer .chip"), f"no answer with a citation to {question!r}")
        return self.all(".turn")[-1]

    def errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]


def tea_pdf(path: Path) -> Path:
    """A one-page PDF: a heading and a paragraph that wraps over several lines (Helvetica: pdfium has the font, so
    no system font is needed)."""
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    SimpleDocTemplate(str(path), pagesize=(595, 842)).build(
        [Paragraph(TEA[0], styles["Heading1"]), Paragraph(TEA[1], styles["BodyText"])])
    return path


def test_upload_ask_and_see_the_cited_passage(live_server, browser, tmp_path):
    pdf = tea_pdf(tmp_path / "longjing.pdf")
    txt = tmp_path / "熊猫基地.txt"
    txt.write_text(PANDA, encoding="utf-8")
    page = Page(browser)

    browser.get(live_server.url)
    assert browser.title == "docrag"
    page.find("#kb-name").send_keys("tea")
    page.find("#kb-create").click()
    page.wait(lambda: page.find("#kb-select").get_attribute("value") == "tea", "the new knowledge base is not chosen")

    # the files at once through the file input (one refused by the server); the job's card follows it to its end
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"PK\x03\x04 not a PDF at all")
    page.find("#file-input").send_keys(f"{pdf}\n{txt}\n{broken}")
    page.wait(lambda: page.all('.job[data-state="done"]'), "the ingest job did not finish")
    files = {f.get_attribute("data-name"): f.get_attribute("data-state") for f in page.all(".job .file")}
    assert files == {"longjing.pdf": "added", "熊猫基地.txt": "added", "broken.pdf": "failed"}
    assert "ZIP archive" in page.find('.job .file[data-name="broken.pdf"] .reason').text
    page.wait(lambda: len(page.all("#doc-table tbody tr .badge.indexed")) == 2, "the documents are not listed indexed")
    rows = {r.get_attribute("data-name"): r.text for r in page.all("#doc-table tbody tr")}
    assert set(rows) == {"longjing.pdf", "熊猫基地.txt"}
    page.shot("1-uploaded")

    # a question the PDF answers: the answer streams in with a citation chip
    turn = page.ask("How many tonnes of Longjing tea were harvested in 2023?")
    assert "1200 tonnes" in turn.find_element(By.CSS_SELECTOR, ".answer").text
    page.shot("2-answer")

    # its chip opens the page image with the quote's box highlighted on it
    turn.find_element(By.CSS_SELECTOR, ".answer .chip").click()
    image = page.wait_for("#viewer .page img")
    assert page.js("return arguments[0].complete && arguments[0].naturalWidth", image) > 0
    highlight = page.wait_for("#viewer .page .highlight")
    assert highlight.size["width"] > 20 and highlight.size["height"] > 5
    box, img_box = highlight.rect, image.rect
    assert img_box["x"] <= box["x"] and box["x"] + box["width"] <= img_box["x"] + img_box["width"] + 1
    assert img_box["y"] <= box["y"] and box["y"] + box["height"] <= img_box["y"] + img_box["height"] + 1
    if not page.all("#viewer .passage mark"):  # the reference had boxes of its own: no passage view needed
        assert page.find("#viewer-title").text.startswith("[1] longjing.pdf")
    else:
        assert "1200 tonnes" in page.find("#viewer .passage mark").text
    shot = page.shot("3-cited-page")
    if os.environ.get("DOCRAG_README_IMAGES") == "1" or not README_IMAGE.exists():
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_IMAGE)
    page.find("#viewer .close").click()

    # a follow-up: the earlier question goes along as history, the document it named is carried into the
    # follow-up, and the answer says what was searched for
    turn = page.ask("And what did a kilogram sell for?")
    assert "sell for (Longjing" in turn.find_element(By.CSS_SELECTOR, ".standalone").text

    # settings are kept in the browser and sent with the next questions; the conversation stays
    page.find("#settings-open").click()
    Select(page.wait_for("#set-mode")).select_by_value("bm25")
    page.find("#set-k").send_keys("3")
    page.find("#settings-save").click()
    assert page.js("return JSON.parse(localStorage.getItem('docrag.settings'))")["mode"] == "bm25"
    assert len(page.all(".turn")) == 2

    # a new conversation, about the Chinese text file: its citation shows the passage with the quote marked
    page.find("#new-chat").click()
    assert not page.all(".turn")
    turn = page.ask("熊猫基地在哪里？")
    assert not turn.find_elements(By.CSS_SELECTOR, ".standalone")
    assert "北郊" in turn.find_element(By.CSS_SELECTOR, ".answer").text
    turn.find_element(By.CSS_SELECTOR, ".answer .chip").click()
    mark = page.wait_for("#viewer .passage mark")
    assert "成都市北郊" in mark.text
    assert not page.all("#viewer .page")
    page.shot("4-cited-text")
    page.find("#viewer .close").click()

    # the chunk browser of a document, and the page in Chinese
    page.find('#doc-table tr[data-name="longjing.pdf"] td button').click()
    chunk = page.wait_for("#viewer .chunk .passage")
    assert "1200 tonnes" in chunk.text
    page.find("#viewer .close").click()
    page.find("#lang-toggle").click()
    assert page.find("#ask-button").text == "提问"
    assert "完成" in page.find(".job .job-head").text
    page.shot("5-chinese")
    assert page.errors() == []


def test_a_key_is_asked_for_when_the_server_wants_one(live_server, browser):
    key = ServerState(live_server.root / "server.sqlite").create_key("web", admin=True)
    page = Page(browser)
    browser.get(live_server.url)
    note = page.wait_for("#settings #key-note.error-text")
    assert "API key is needed" in note.text
    assert "API key is needed" in page.find("#error-text").text
    page.find("#set-key").send_keys(key)
    page.find("#settings-save").click()
    page.wait(lambda: not page.find("#error").is_displayed(), "the error stays after the key is given")
    page.find("#kb-name").send_keys("keyed")
    page.find("#kb-create").click()
    page.wait(lambda: page.find("#kb-select").get_attribute("value") == "keyed", "no knowledge base made with the key")
    assert page.js("return localStorage.getItem('docrag.key')") == key
