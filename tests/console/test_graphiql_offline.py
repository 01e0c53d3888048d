"""GraphiQL at /graphql in headless Chromium with the network cut: every request that does
not go to twinql itself is aborted, and the page still renders with twinql's example
query and the token hint, runs that query with a token (the headers editor) and shows the
demo plant, and shows the server's reason when a WebSocket is refused for lack of a token
(instead of spinning while a client retries).

Uses the console's fixtures (``demo``: ``twinql demo`` as a child process; ``browser``: the
system Chromium). The screenshot goes to the test's temporary directory, and to
``$TWINQL_SCREENSHOTS/graphiql.png`` when that is set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.console.conftest import ROOT, TOKENS, Demo

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESPONSE = ".graphiql-response .CodeMirror"
SUBSCRIPTION = (
    'subscription { liveReadings(assetId: "pump-101") { readings { sensorId value } missed } }'
)
REFUSED = "Socket closed with event 4403 UNAUTHENTICATED: subscriptions need an API token"


class Offline:
    """A page whose requests leave the machine never: anything not for twinql is aborted
    and noted."""

    def __init__(self, page: Page, demo: Demo) -> None:
        self.page = page
        self.demo = demo
        self.aborted: list[str] = []
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.route("**/*", self._only_twinql)

    def _only_twinql(self, route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            self.aborted.append(route.request.url)
            route.abort("internetdisconnected")

    def open(self, query: str | None = None) -> None:
        search = f"?q={quote(query)}" if query else ""
        self.page.goto(f"{self.demo.base}/graphql{search}")
        self.page.wait_for_selector(QUERY_EDITOR, timeout=60_000)

    def editor(self, selector: str) -> str:
        return str(
            self.page.evaluate("s => document.querySelector(s).CodeMirror.getValue()", selector)
        )

    def type_headers(self, text: str) -> None:
        self.page.get_by_text("Headers", exact=True).click()
        headers = self.page.locator(".graphiql-editor-tool .CodeMirror:visible")
        headers.click()
        self.page.keyboard.type(text)

    def run(self) -> None:
        self.page.click(".graphiql-execute-button")

    def response(self) -> str:
        """The result pane's text, once it holds one."""
        self.page.wait_for_function(
            "s => document.querySelector(s).CodeMirror.getValue().trim() !== ''",
            arg=RESPONSE,
            timeout=30_000,
        )
        return self.editor(RESPONSE)


@pytest.fixture
def offline(browser: Browser, demo: Demo, tmp_path: Path) -> Iterator[Offline]:
    context = browser.new_context(viewport={"width": 1300, "height": 820})
    try:
        yield Offline(context.new_page(), demo)
    finally:
        context.close()


def screenshot(page: Page, tmp_path: Path, name: str) -> None:
    dirs = [tmp_path]
    if os.environ.get("TWINQL_SCREENSHOTS"):
        dirs.append(ROOT / os.environ["TWINQL_SCREENSHOTS"])
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(d / f"{name}.png"))


def test_graphiql_runs_the_example_with_the_network_cut(offline: Offline, tmp_path: Path) -> None:
    offline.open()
    query = offline.editor(QUERY_EDITOR)
    assert query.startswith("# twinql: the knowledge graph of assets")
    assert '{"Authorization": "Bearer <key>"}' in query  # the token hint
    assert ".twinql/first-keys.json" in query  # where the keys are (no stale tokens.json)
    assert 'asset(id: "ps-line-1")' in query and 'impact(assetId: "pump-101")' in query
    assert offline.editor(RESPONSE).strip() == ""

    offline.type_headers(json.dumps({"Authorization": f"Bearer {TOKENS['viewer']}"}))
    offline.run()
    result = json.loads(offline.response())
    assert "errors" not in result, result
    line = result["data"]["asset"]
    assert line["name"]
    pumps = {n["id"] for n in line["children"]["nodes"]}
    assert "pump-101" in pumps
    reached = {hit["asset"]["id"] for hit in result["data"]["impact"]}
    assert reached and "pump-101" not in reached
    screenshot(offline.page, tmp_path, "graphiql")

    assert offline.errors == [], offline.errors
    # React, GraphiQL and the explorer came from twinql: nothing was even attempted elsewhere
    assert offline.aborted == [], offline.aborted


def test_a_websocket_refused_for_lack_of_a_token_shows_why(offline: Offline) -> None:
    offline.open(SUBSCRIPTION)
    offline.run()
    shown = json.loads(offline.response())
    assert shown["errors"][0]["message"] == REFUSED
    assert offline.aborted == [], offline.aborted


def test_a_subscription_with_the_token_streams_readings(offline: Offline) -> None:
    offline.open(SUBSCRIPTION)
    offline.type_headers(json.dumps({"Authorization": f"Bearer {TOKENS['viewer']}"}))
    offline.run()
    shown = json.loads(offline.response())
    assert "errors" not in shown, shown
    sensors = {r["sensorId"] for r in shown["data"]["liveReadings"]["readings"]}
    assert any(s.startswith("pump-101.") for s in sensors), sensors
    offline.run()  # the button stops the subscription
    assert offline.errors == [], offline.errors
