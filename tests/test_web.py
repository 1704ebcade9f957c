"""The web page at `/`, driven in Debian's headless chromium through Playwright.

Needs `/usr/bin/chromium` (`apt-get install chromium`; `make test` installs it) and the
`playwright` package (the `dev` extra). Playwright's own browser download is not used.
Set `RAG_WEB_SCREENSHOT=1` to rewrite `docs/screenshot.png` from the citation test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.corpus.uploads import prepare_upload
from rag.documents import add_documents
from rag.index import load_index
from rag.services import Services
from tests.api_server import closed_port_url, start_server
from tests.make_files import REPORT_QUESTION, report_pdf
from tests.test_jobs import gated_server
from tests.test_updates import CLINIC_FILE, CLINIC_QUESTION

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # the page tests skip; the plain HTTP ones still run
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"
QUESTION = "北塔区丰江管家有多少名成员?"
UNANSWERABLE = "长沙县的村党组织书记每月能拿到多少报酬?"
API_KEY = "s3cret-web-key"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (make test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


def open_page(browser: Browser, url: str, width: int = 1280, height: int = 900) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(url)
    return page


@pytest.fixture()
def page(browser: Browser, api_url: str) -> Iterator[Page]:
    opened = open_page(browser, api_url)
    yield opened
    assert opened.errors == []  # type: ignore[attr-defined]  (no uncaught script errors)
    opened.close()


def ask(page: Page, question: str) -> None:
    page.get_by_label("你的问题").fill(question)
    page.get_by_label("你的问题").press("Enter")


def marked_text(page: Page) -> str:
    """The highlighted passage: one <mark> per paragraph it spans, joined by the newlines."""
    return "\n".join(page.locator("#article-body mark").all_text_contents())


def answer_of(api_url: str, question: str) -> dict[str, Any]:
    return httpx.post(f"{api_url}/v1/ask", json={"question": question}, timeout=30).json()


# -- the files ------------------------------------------------------------------------------


def test_page_and_static_files_are_served_without_a_key(services: Services) -> None:
    with start_server(services, api_key=API_KEY) as url:
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert '<script src="/static/app.js"' in page.text
        assert "http" not in page.text  # nothing loaded from another origin
        for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
            response = httpx.get(f"{url}/static/{name}")
            assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        assert httpx.get(f"{url}/static/index.py").status_code == 404
        assert httpx.get(f"{url}/static/..%2Fapp.py").status_code == 404
        assert httpx.get(f"{url}/v1/documents").status_code == 401  # the API stays closed


def test_script_never_inserts_html() -> None:
    script = (Path(__file__).resolve().parent.parent / "rag/api/static/app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in script


# -- the page -------------------------------------------------------------------------------


def test_streamed_answer_with_a_citation_that_opens_the_passage(page: Page, api_url: str) -> None:
    expected = answer_of(api_url, QUESTION)
    first = expected["citations"][0]
    with page.expect_request("**/v1/ask") as sent:
        ask(page, QUESTION)
    assert sent.value.post_data_json == {"question": QUESTION, "stream": True}

    answer = page.locator("#answer")
    cite = answer.get_by_role("button", name=f"[{first['n']}]").first
    expect(cite).to_be_visible()
    expect(answer).to_have_attribute("aria-busy", "false")
    assert answer.inner_text().replace("\n", "").startswith(expected["answer"].split("[")[0])
    assert "56名" in answer.inner_text()
    expect(page.locator("#sources li")).to_have_count(len(expected["citations"]))
    expect(page.get_by_role("alert")).to_have_text("")

    cite.click()
    mark = page.locator("#article-body mark").first
    expect(mark).to_be_in_viewport()
    assert marked_text(page) == first["text"]
    expect(page.locator("#viewer-title")).to_have_text(first["title"])
    if first["section"]:
        expect(page.locator("#article-body h3", has_text=first["section"])).to_be_visible()
    if os.environ.get("RAG_WEB_SCREENSHOT"):
        page.screenshot(path=str(SCREENSHOT))

    page.keyboard.press("Escape")
    expect(page.locator("#article")).to_be_hidden()
    expect(cite).to_be_focused()  # focus goes back to the citation


def test_a_citation_into_a_pdf_shows_its_page(browser: Browser, index_copy, embedder) -> None:
    upload = prepare_upload("report.pdf", report_pdf(), limit=index_copy.max_upload_bytes)
    add_documents(index_copy, embedder, [upload])
    own = Services.from_parts(index_copy, embedder, load_index(index_copy.index_dir))
    with start_server(own) as url:
        page = open_page(browser, url)
        ask(page, REPORT_QUESTION)
        source = page.locator("#sources li", has_text="第2页").first
        expect(source).to_be_visible()
        source.locator("button.source").click()
        expect(page.locator("#article-meta")).to_contain_text("第2页")
        expect(page.locator("#article-body mark").first).to_contain_text("14座")
        assert page.errors == []  # type: ignore[attr-defined]
        page.close()


def test_unanswerable_question_shows_a_notice_without_citations(page: Page) -> None:
    ask(page, UNANSWERABLE)
    notice = page.locator("#answer .notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("没有找到")
    expect(page.locator("#answer .cite")).to_have_count(0)
    expect(page.locator("#sources-box")).to_be_hidden()
    expect(page.get_by_role("alert")).to_have_text("")


def test_article_list_opens_articles(page: Page, services: Services) -> None:
    titles = [d.title for d in services.bundle.store.documents]
    items = page.locator("#documents li button")
    expect(items).to_have_count(len(titles))
    assert len(titles) == 11
    for title in titles:
        expect(page.locator("#documents .doc-title", has_text=title).first).to_be_visible()

    document = max(services.bundle.store.documents, key=lambda d: len(d.sections))
    page.locator("#documents button", has_text=document.title).first.click()
    expect(page.locator("#viewer-title")).to_have_text(document.title)
    expect(page.locator("#viewer-title")).to_be_focused()
    headings = [s.title for s in document.sections if s.title and s.title != document.title]
    expect(page.locator("#article-body h3")).to_have_text(headings)
    expect(page.locator("#article-body mark")).to_have_count(0)
    page.get_by_role("button", name="关闭").click()
    expect(page.locator("#viewer-empty")).to_be_visible()


def test_service_failures_are_shown_in_the_alert(browser: Browser, services: Services) -> None:
    failing = {"llm": "openai", "llm_base_url": closed_port_url(), "llm_retries": 0}
    with start_server(services, max_question_chars=40, **failing) as url:
        page = open_page(browser, url)
        alert = page.get_by_role("alert")

        ask(page, QUESTION)  # the passages come, then an `error` event naming the backend
        expect(alert).to_contain_text("502")
        expect(alert).to_contain_text("'openai'")
        expect(page.locator("#answer")).to_have_attribute("aria-busy", "false")
        expect(page.locator("#result")).to_be_hidden()  # no empty answer box

        ask(page, "这个问题" * 11)  # an HTTP 422 before any event: its `detail` is shown
        expect(alert).to_contain_text("422")
        expect(alert).to_contain_text("40")

        page.route("**/v1/ask", lambda route: route.abort("connectionrefused"))
        ask(page, QUESTION)
        expect(alert).to_contain_text("无法连接服务")
        assert page.errors == []  # type: ignore[attr-defined]
        page.close()


def test_api_key_is_asked_for_kept_and_sent(browser: Browser, services: Services) -> None:
    with start_server(services, api_key=API_KEY) as url:
        page = open_page(browser, url)
        key = page.get_by_label("API 密钥")
        expect(key).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("401")

        key.fill("wrong")
        key.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("401")
        key.fill(API_KEY)
        key.press("Enter")
        expect(page.locator("#documents li")).to_have_count(11)
        expect(key).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('rag.apiKey')") == API_KEY

        with page.expect_request("**/v1/ask") as sent:
            ask(page, QUESTION)
        assert sent.value.headers["authorization"] == f"Bearer {API_KEY}"
        expect(page.locator("#answer .cite").first).to_be_visible()
        assert page.errors == []  # type: ignore[attr-defined]
        page.close()


def test_phone_width_has_one_column_and_no_horizontal_scroll(
    browser: Browser, api_url: str
) -> None:
    page = open_page(browser, api_url, width=375, height=812)
    expect(page.locator("#documents li")).to_have_count(11)
    no_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(no_scroll)
    expect(page.locator("#viewer")).to_be_hidden()  # no empty second column

    ask(page, QUESTION)
    page.locator("#answer .cite").first.click()
    viewer = page.locator("#viewer")
    expect(page.locator("#article-body mark").first).to_be_in_viewport()
    box = viewer.bounding_box()
    assert box is not None and box["x"] == 0 and box["width"] == 375  # a full-width overlay
    assert page.evaluate(no_scroll)
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    assert page.evaluate(no_scroll)
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def test_an_uploaded_file_shows_its_job_progress_then_answers(
    browser: Browser, index_copy, embedder
) -> None:
    with gated_server(index_copy, embedder) as (http, gated):
        page = open_page(browser, str(http.base_url).rstrip("/"))
        expect(page.locator("#documents li")).to_have_count(11)
        page.set_input_files(
            "#upload-file",
            files=[{"name": "青山县卫生室.md", "mimeType": "text/markdown", "buffer": CLINIC_FILE}],
        )
        page.get_by_role("button", name="上传", exact=True).click()
        status = page.locator("#upload-status")
        # The job holds in its embedding step (the gate): the page shows it running.
        expect(status).to_contain_text("正在编入索引")
        expect(page.locator("#upload-progress")).to_be_visible()
        gated.gate.set()
        expect(status).to_contain_text("已添加 青山县卫生室.md：1 篇文章", timeout=120_000)
        expect(page.locator("#documents li")).to_have_count(12)
        ask(page, CLINIC_QUESTION)
        expect(page.locator("#answer .cite").first).to_be_visible()
        page.locator("#answer .cite").first.click()
        expect(page.locator("#viewer-title")).to_contain_text("青山县")
        assert page.errors == []  # type: ignore[attr-defined]
        page.close()
