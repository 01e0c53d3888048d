"""The operator console in headless Chromium against ``twinql demo`` (real devices,
real subscriptions): log in, walk the tree, watch a live value change, chart history,
send a setpoint, acknowledge an alert, read the analytics panel and assess now, open the
graph, run a what-if; a viewer sees no setpoint form and no "Assess now". Expected values come from the API itself, asked over HTTP."""

from __future__ import annotations

import gzip
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.console.conftest import NAMES, TOKENS, Console, Demo
from tests.support.polling import eventually_sync

ASSET = "pump-101"
ACTUATOR = "pump-101.speed_sp"


# ---- the files and the session endpoint, over plain HTTP ------------------------------


def test_page_and_assets_come_from_the_package(demo: Demo) -> None:
    page = httpx.get(demo.base + "/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
    html = page.text
    assets = re.findall(r'(?:src|href)="/console/assets/([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)  # nothing from a CDN
    for name in assets:
        url = f"{demo.base}/console/assets/{name}"
        packed = httpx.get(url, headers={"Accept-Encoding": "gzip"})
        assert packed.headers.get("content-encoding") == "gzip"
        assert "immutable" in packed.headers["cache-control"]
        raw = httpx.get(url, headers={"Accept-Encoding": "identity"})
        assert raw.status_code == 200 and "content-encoding" not in raw.headers
        assert packed.content == raw.content  # httpx unpacked the gzip copy
        assert len(gzip.compress(raw.content)) < len(raw.content)
    for bad in ("nope.js", "..%2Fhttp.py", ".hidden.js", "index.html"):
        assert httpx.get(f"{demo.base}/console/assets/{bad}").status_code == 404, bad


def test_session_names_the_role_and_what_it_implies(demo: Demo) -> None:
    url = demo.base + "/console/session"
    expected = {
        "viewer": ["viewer"],
        "operator": ["viewer", "operator"],
        "admin": ["viewer", "ingest", "operator", "engineer", "admin"],
    }
    for role, token in TOKENS.items():
        body = httpx.get(url, headers={"Authorization": f"Bearer {token}"}).json()
        assert body["role"] == role and body["name"] == NAMES[role]
        assert body["roles"] == expected[role]
    wrong = httpx.get(url, headers={"Authorization": "Bearer not-a-token-of-this-twin"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "UNAUTHENTICATED"


# ---- in the browser ----------------------------------------------------------------


def test_unknown_token_is_refused_in_the_apis_words(console: Console, demo: Demo) -> None:
    bad = "not-a-token-of-this-twin"
    api = httpx.post(
        demo.base + "/graphql",
        json={"query": "{ graphStats { assets } }"},
        headers={"Authorization": f"Bearer {bad}"},
    ).json()
    console.open()
    console.screenshot("login")
    console.page.fill("input[name=token]", bad)
    console.page.click("button[type=submit]")
    error = console.page.wait_for_selector("[role=alert]")
    assert api["errors"][0]["message"] in error.inner_text()
    assert "UNAUTHENTICATED" in error.inner_text()


def test_operator_walks_the_tree_and_sees_live_values(console: Console, demo: Demo) -> None:
    info = demo.gql('{ asset(id: "%s") { name ancestors { id } sensors { id } } }' % ASSET)
    asset = info["data"]["asset"]
    page = console.page
    console.login("operator")
    # the token lives for the tab only
    assert page.evaluate("sessionStorage.getItem('twinql.token')") == TOKENS["operator"]
    assert page.evaluate("localStorage.length") == 0
    for ancestor in reversed(asset["ancestors"]):  # root first, children loaded on opening
        page.click(f"[data-testid='toggle-{ancestor['id']}']")
    page.click(f"[data-testid='tree-{ASSET}']")
    assert asset["name"] in page.inner_text("[data-testid=asset-title]")
    assert page.locator("tr[data-testid^='sensor-']").count() == len(asset["sensors"])
    cell = f"[data-testid='at-{ASSET}.flow']"
    page.wait_for_function(
        "sel => { const t = document.querySelector(sel); return t && t.textContent !== '–'; }",
        arg=cell,
    )
    first = page.inner_text(cell)
    # a newer reading arrives over the subscription and replaces the one shown
    page.wait_for_function(
        "([sel, old]) => document.querySelector(sel).textContent !== old",
        arg=[cell, first],
        timeout=20_000,
    )
    assert page.inner_text(f"[data-testid='value-{ASSET}.flow']") not in ("", "–")
    console.screenshot("asset")


def test_search_lists_what_the_api_finds(console: Console, demo: Demo) -> None:
    api = demo.gql('{ assets(search: "valve", level: EQUIPMENT) { nodes { id } } }')
    want = [n["id"] for n in api["data"]["assets"]["nodes"]]
    assert want
    console.login("viewer")
    console.page.fill("[data-testid=tree-search]", "valve")
    console.page.select_option("select[aria-label=level]", "EQUIPMENT")
    console.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid^=found-]').length === n", arg=len(want)
    )
    found = console.page.eval_on_selector_all(
        "[data-testid^=found-]", "els => els.map(e => e.dataset.testid.slice(6))"
    )
    assert found == want


def test_history_chart_follows_the_range_picker(console: Console, demo: Demo) -> None:
    page = console.page
    console.login("viewer")
    console.open(f"#/asset/{ASSET}")
    info = page.wait_for_selector("[data-testid=history-info]")
    assert "of 15s" in info.inner_text()  # 1 h in buckets the store computes
    assert page.locator("[data-testid=history-chart] canvas").count() == 1
    page.click("[data-testid=range-picker] >> text=15m")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=history-info]').textContent.includes('of 5s')"
    )
    page.click("[data-testid=range-picker] >> text=24h")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=history-info]').textContent.includes('of 300s')"
    )
    page.click("[data-testid=range-picker] >> text=5m")
    page.check(f"input[aria-label='plot {ASSET}.flow']")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=history-chart] .u-legend').textContent.includes('Flow')"
    )
    info = page.inner_text("[data-testid=history-info]")
    assert "of 1s" in info and 0 < int(info.split()[0]) <= 301  # 5 min in 1 s buckets
    page.wait_for_function(  # the first live values arrived (for the screenshot)
        "() => document.querySelector('section.panel h2 span').textContent === 'live'"
    )
    page.locator("[data-testid=history-chart]").scroll_into_view_if_needed()
    console.screenshot("history")


def test_setpoint_shows_the_outcome_and_the_apis_refusal(console: Console, demo: Demo) -> None:
    page = console.page
    console.login("operator")
    console.open(f"#/asset/{ASSET}")
    form = f"[data-testid='setpoint-{ACTUATOR}']"
    page.wait_for_selector(form)
    limits = demo.gql('{ actuator(id: "%s") { minValue maxValue unit } }' % ACTUATOR)["data"]
    shown = page.inner_text(f"[data-testid='actuator-{ACTUATOR}'] [data-testid=limits]")
    assert str(int(limits["actuator"]["maxValue"])) in shown and limits["actuator"]["unit"] in shown
    page.fill(f"{form} input[name=value]", "2400")
    page.fill(f"{form} input[name=reason]", "console test")
    page.click(f"{form} button[type=submit]")
    outcome = page.wait_for_selector(f"{form} [data-testid=outcome]", timeout=30_000).inner_text()
    command_id = re.search(r"command (\S+)", outcome)
    assert command_id, outcome
    audit = demo.gql(
        '{ setpointCommand(id: "%s") { status confirmedValue requestedBy } }' % command_id[1]
    )["data"]["setpointCommand"]
    assert audit["status"] in outcome and audit["requestedBy"] == NAMES["operator"]
    assert audit["status"] == "APPLIED" and "device confirmed 2400" in outcome
    page.locator(form).scroll_into_view_if_needed()
    console.screenshot("setpoint")

    too_big = 99999
    api = demo.gql(
        'mutation { writeSetpoint(actuatorId: "%s", value: %d) { status } }' % (ACTUATOR, too_big),
        role="operator",
    )
    page.fill(f"{form} input[name=value]", str(too_big))
    page.click(f"{form} button[type=submit]")
    error = page.wait_for_selector(f"{form} [role=alert]").inner_text()
    assert api["errors"][0]["message"] in error and "VALIDATION" in error


def test_viewer_sees_no_setpoint_form(console: Console, demo: Demo) -> None:
    page = console.page
    console.login("viewer")
    assert "viewer" in page.inner_text("[data-testid=who]")
    console.open(f"#/asset/{ASSET}")
    page.wait_for_selector(f"[data-testid='actuator-{ACTUATOR}']")
    assert page.locator("form[data-testid^='setpoint-']").count() == 0
    assert "Setpoints need the operator role" in page.inner_text(
        f"[data-testid='actuator-{ACTUATOR}']"
    )
    assert page.locator("text=Acknowledge").count() == 0
    # the analytics panel without "Assess now"
    page.wait_for_selector("[data-testid=analytics-panel] [data-testid=health-method]")
    assert page.locator("[data-testid=assess]").count() == 0


def test_operator_acknowledges_an_alert(console: Console, demo: Demo) -> None:
    uid = uuid.uuid4().hex[:8]
    asset, sensor = f"console-{uid}", f"console-{uid}.temp"
    assert "errors" not in demo.gql(
        'mutation { upsertAssets(assets: [{id: "%s", name: "Console test %s", type: "tank", '
        'level: EQUIPMENT, parentId: "riverside"}]) { id } '
        'upsertSensors(sensors: [{id: "%s", assetId: "%s", name: "Temperature", kind: "temperature", '
        'unit: "°C", minValue: 0, maxValue: 100, warnHigh: 50}]) { id } }'
        % (asset, uid, sensor, asset)
    )
    subscribed: list[str] = []
    console.page.on(
        "websocket",
        lambda ws: ws.on(
            "framesent",
            lambda f: subscribed.append(f) if isinstance(f, str) and "alerts(" in f else None,
        ),
    )
    try:
        console.login("operator")
        console.open(f"#/asset/{asset}")
        console.page.wait_for_selector("text=No alerts.")
        deadline = time.monotonic() + 20
        while not subscribed:  # the page asked for this asset's alert changes
            assert time.monotonic() < deadline, "no alerts subscription sent"
            console.page.wait_for_timeout(100)
        raise_an_alert(demo, asset, sensor)  # the open page hears of it (alerts subscription)
        acknowledge_on_the_console(console, demo, asset)
    finally:
        demo.gql('mutation { deleteAsset(id: "%s", cascade: true) { deletedIds } }' % asset)


def raise_an_alert(demo: Demo, asset: str, sensor: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    readings = [  # beyond the warning level for several readings in a row
        {
            "sensorId": sensor,
            "value": 70.0 + i,
            "timestamp": (start + timedelta(seconds=i)).isoformat(),
        }
        for i in range(5)
    ]
    pushed = demo.gql(
        "mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) { accepted } }",
        {"r": readings},
    )
    assert pushed["data"]["ingestReadings"]["accepted"] == len(readings), pushed
    deadline = time.monotonic() + 20
    while not demo.gql('{ alerts(assetId: "%s", active: true) { nodes { id } } }' % asset)["data"][
        "alerts"
    ]["nodes"]:
        assert time.monotonic() < deadline, "no alert raised"
        time.sleep(0.3)


def acknowledge_on_the_console(console: Console, demo: Demo, asset: str) -> None:
    page = console.page
    row = page.wait_for_selector("tr[data-testid^='alert-']")
    row.query_selector("input").fill("seen on the console")
    row.scroll_into_view_if_needed()
    console.screenshot("alerts")
    row.query_selector("text=Acknowledge").click()
    page.wait_for_function(
        "() => document.querySelector('tr[data-testid^=alert-]').textContent.includes('acknowledged by')"
    )
    api = demo.gql(
        '{ alerts(assetId: "%s") { nodes { state acknowledgedBy acknowledgeNote } } }' % asset
    )
    alert = api["data"]["alerts"]["nodes"][0]
    assert alert == {
        "state": "ACKNOWLEDGED",
        "acknowledgedBy": NAMES["operator"],
        "acknowledgeNote": "seen on the console",
    }


def test_graph_view_draws_the_apis_graph_and_navigates(console: Console, demo: Demo) -> None:
    near = demo.gql('{ neighbourhood(assetId: "%s", hops: 2) { nodes { id } } }' % ASSET)
    impact = demo.gql('{ impact(assetId: "%s", maxDepth: 6, limit: 300) { assetId } }' % ASSET)
    parent = demo.gql('{ asset(id: "%s") { parent { id } } }' % ASSET)["data"]["asset"]["parent"]
    page = console.page
    console.login("operator")
    console.open(f"#/asset/{ASSET}")
    page.click("a.button >> text=Graph")
    page.wait_for_selector("[data-testid=graph] .gnode")

    def drawn() -> set[str]:
        return set(page.eval_on_selector_all(
            "[data-testid^=gnode-]", "els => els.map(e => e.dataset.testid.slice(6))"
        ))  # fmt: skip

    assert drawn() == {n["id"] for n in near["data"]["neighbourhood"]["nodes"]}
    console.screenshot("graph")
    page.click("a.button >> text=Impact (downstream)")
    page.wait_for_function("() => location.hash.includes('mode=impact')")
    want = {ASSET} | {r["assetId"] for r in impact["data"]["impact"]}
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid^=gnode-]').length === n", arg=len(want)
    )
    assert drawn() == want
    # zoom with the wheel, then a click opens the asset
    page.mouse.move(600, 400)
    page.mouse.wheel(0, -300)
    page.click(f"[data-testid='gnode-{ASSET}']")
    page.wait_for_function("id => location.hash === '#/asset/' + id", arg=ASSET)
    page.click("a.button >> text=Graph")
    page.click(f"[data-testid='gnode-{parent['id']}']")
    page.wait_for_function("id => location.hash === '#/asset/' + id", arg=parent["id"])
    page.wait_for_selector("[data-testid=asset-title]")


def test_what_if_plots_each_measured_output(console: Console, demo: Demo) -> None:
    spec = demo.gql('{ simulationSpec(assetId: "%s") { measuredOutputs { name } } }' % ASSET)
    outputs = {m["name"] for m in spec["data"]["simulationSpec"]["measuredOutputs"]}
    assert outputs
    page = console.page
    console.login("admin")
    console.open(f"#/whatif/{ASSET}")
    page.fill("[data-testid=whatif-form] input[type=number]", "2")
    page.click("[data-testid=whatif-form] button[type=submit]")
    page.wait_for_selector("[data-testid=whatif-result]", timeout=120_000)
    charts = page.eval_on_selector_all(
        "[data-testid^=whatif-]:not([data-testid=whatif-form]):not([data-testid=whatif-result])",
        "els => els.map(e => e.dataset.testid.slice(7))",
    )
    assert set(charts) == outputs
    assert page.locator("[data-testid=whatif-result] canvas").count() == len(outputs)
    page.locator("[data-testid=whatif-result]").scroll_into_view_if_needed()
    console.screenshot("whatif")


def test_line_bottleneck_study_as_a_chart(console: Console, demo: Demo) -> None:
    line = "line-a"
    api = demo.gql(
        '{ lineBottleneck(lineId: "%s", hours: 4, replications: 2, warmupHours: 0.5) '
        "{ bottleneck stations { stationId } } }" % line
    )["data"]["lineBottleneck"]
    page = console.page
    console.login("admin")
    console.open(f"#/whatif/{line}")
    form = "[data-testid=bottleneck] form"
    page.fill(f"{form} input >> nth=0", "4")
    page.fill(f"{form} input >> nth=1", "2")
    page.fill(f"{form} input >> nth=2", "0.5")
    page.click(f"{form} button[type=submit]")
    shown = page.wait_for_selector("[data-testid=bottleneck-id]", timeout=120_000).inner_text()
    assert shown == api["bottleneck"]  # the same study (same seed) as over the API
    bars = page.locator("[data-testid=bottleneck-chart] rect").count()
    assert bars == len(api["stations"])
    console.screenshot("bottleneck")


def test_data_sources_and_rejected_readings(console: Console, demo: Demo) -> None:
    sources = demo.gql("{ dataSources { id status { state } } }")["data"]["dataSources"]
    bogus = f"console-no-such-sensor-{uuid.uuid4().hex[:6]}"
    pushed = demo.gql(
        'mutation { ingestReadings(readings: [{sensorId: "%s", value: 1}]) { errors { reason } } }'
        % bogus
    )
    reason = pushed["data"]["ingestReadings"]["errors"][0]["reason"]
    page = console.page
    console.login("viewer")
    page.click("header >> text=Data sources")
    page.wait_for_selector("[data-testid=sources]")
    for s in sources:
        row = page.inner_text(f"[data-testid='source-{s['id']}']")
        if s["status"] is not None:
            assert s["status"]["state"].lower() in row
    console.screenshot("sources")
    page.click("header >> text=Rejected readings")
    page.fill("input[placeholder^='sensor id']", bogus)
    page.click("button >> text=Filter")
    deadline = time.monotonic() + 20
    while bogus not in (page.inner_text("main")):
        assert time.monotonic() < deadline, "the rejected reading never showed"
        page.click("button >> text=refresh")
        page.wait_for_timeout(500)
    assert reason in page.inner_text("[data-testid=rejected]")
    console.screenshot("rejected")


# The API's reason codes (schema descriptions, docs/analytics.md) and the words the
# panel gives them.
REASONS = {
    "no_failure_limit", "too_little_history", "not_degrading", "no_trend",
    "no_fleet_history", "no_model", "no_complete_window", "no_data", "unknown",
}  # fmt: skip

HEALTH = """query($id: ID!) { asset(id: $id) {
  sensors { id failLow failHigh }
  workOrders { id status } }
  healthHistory(assetId: $id, first: 200) { nodes { id healthIndex rul { hours } } } }"""

SHOWN = """() => {
  const a = document.querySelector('[data-testid=assessed]');
  if (!a) return null;
  const v = (id) => { const e = document.querySelector(`[data-testid=${id}]`); return e ? e.dataset.value : null; };
  return { id: a.dataset.id, text: a.textContent, index: v('health-index'), rul: v('rul-hours') };
}"""


def test_analytics_panel_and_assess_now(console: Console, demo: Demo) -> None:
    order = f"wo-console-{uuid.uuid4().hex[:8]}"
    recorded = demo.gql(
        'mutation { recordMaintenance(workOrders: [{id: "%s", assetId: "%s", status: IN_PROGRESS, '
        'priority: 3, reason: "console test: check the coupling"}]) { workOrders { id } } }'
        % (order, ASSET)
    )
    assert "errors" not in recorded, recorded
    try:
        analytics_on_the_console(console, demo, order)
    finally:  # the order is closed again (recordMaintenance is idempotent by id)
        demo.gql(
            'mutation { recordMaintenance(workOrders: [{id: "%s", assetId: "%s", status: DONE, '
            'priority: 3, reason: "console test: check the coupling"}]) { workOrders { id } } }'
            % (order, ASSET)
        )


def analytics_on_the_console(console: Console, demo: Demo, order: str) -> None:
    page = console.page
    console.login("operator")
    console.open(f"#/asset/{ASSET}")
    panel = "[data-testid=analytics-panel]"
    page.wait_for_selector(f"{panel} [data-testid=health-method]")
    asset = demo.gql(HEALTH, {"id": ASSET})["data"]["asset"]
    # failure limits in the sensors table, as the API has them
    limited = [s for s in asset["sensors"] if s["failHigh"] is not None]
    assert limited  # the demo's pump declares them (bearing temperature, vibration)
    for s in asset["sensors"]:
        cell = page.inner_text(f"[data-testid='fail-{s['id']}']")
        if s["failHigh"] is not None:
            assert f"≥ {s['failHigh']:g}" in cell, (s, cell)
        if s["failLow"] is not None:
            assert f"≤ {s['failLow']:g}" in cell, (s, cell)
        if s["failLow"] is None and s["failHigh"] is None:
            assert cell == "–"
    # a health figure, and the RUL or why it is unknown (in words, not the code)
    health_index = page.get_attribute(f"{panel} [data-testid=health-index]", "data-value")
    assert health_index is not None and 0 <= float(health_index) <= 1
    for figure in ("rul", "anomaly"):
        unknown = page.query_selector(f"{panel} [data-testid={figure}-unknown]")
        if unknown is not None:
            reason = unknown.get_attribute("data-reason")
            assert reason in REASONS and reason not in unknown.inner_text(), reason
        else:
            value = f"{figure}-hours" if figure == "rul" else "anomaly-score"
            assert page.inner_text(f"{panel} [data-testid={value}]") not in ("", "–")
    rul = page.query_selector(f"{panel} [data-testid=rul-hours]")
    if rul is not None:  # with its interval and confidence
        assert "…" in page.inner_text(f"{panel} [data-testid=rul]")
    if len(demo.gql(HEALTH, {"id": ASSET})["data"]["healthHistory"]["nodes"]) >= 2:
        page.wait_for_selector(f"{panel} [data-testid=health-chart] canvas")

    # the open work orders, the API's: the recorded one and any the timer opened (an
    # assessment that opens one reaches the page over healthChanges)
    def open_orders() -> tuple[set[str], set[str]]:
        orders = demo.gql(HEALTH, {"id": ASSET})["data"]["asset"]["workOrders"]
        shown = page.eval_on_selector_all(
            f"{panel} tr[data-testid^=order-]", "els => els.map(e => e.dataset.testid.slice(6))"
        )
        return set(shown), {w["id"] for w in orders if w["status"] in ("OPEN", "IN_PROGRESS")}

    shown, _ = eventually_sync(open_orders, done=lambda sw: sw[0] == sw[1], within=30)
    assert order in shown
    assert "check the coupling" in page.inner_text(f"{panel} [data-testid='order-{order}']")

    page.click(f"{panel} [data-testid=assess]")
    assessed = page.wait_for_function(SHOWN, timeout=60_000).json_value()
    stored = {n["id"]: n for n in demo.gql(HEALTH, {"id": ASSET})["data"]["healthHistory"]["nodes"]}
    assert assessed["id"] in stored and assessed["id"] in assessed["text"]
    mine = stored[assessed["id"]]
    shown_as = {"index": mine["healthIndex"], "rul": mine["rul"]["hours"]}
    assert {k: None if assessed[k] is None else float(assessed[k]) for k in shown_as} == shown_as
    page.locator(panel).evaluate("e => e.scrollIntoView()")  # the panel at the top
    console.screenshot("health")
    # an assessment stored elsewhere reaches the page (healthChanges): its figures replace
    # the ones "Assess now" showed
    other = demo.gql(
        'mutation { assessHealth(assetId: "%s") { assessmentId } }' % ASSET, role="operator"
    )
    assert other["data"]["assessHealth"]["assessmentId"] != assessed["id"]
    page.wait_for_selector(f"{panel} [data-testid=assessed]", state="detached", timeout=30_000)


@pytest.mark.parametrize("role", ["operator"])
def test_sign_out_forgets_the_token(console: Console, role: str) -> None:
    console.login(role)
    console.page.click("header >> text=Sign out")
    console.page.wait_for_selector("input[name=token]")
    assert console.page.evaluate("sessionStorage.getItem('twinql.token')") is None


def test_anonymous_reader_browses_read_only(console: Console, demo: Demo) -> None:
    session = httpx.get(demo.base + "/console/session").json()
    assert session["anonymousRead"]  # TWINQL_ANONYMOUS_READ=true (conftest): off by default
    page = console.page
    console.open()
    page.click("text=Browse read-only without a token")
    assert "anonymous" in page.inner_text("[data-testid=who]")
    console.open(f"#/asset/{ASSET}")
    page.wait_for_selector(f"[data-testid='actuator-{ACTUATOR}']")
    assert page.locator("form[data-testid^='setpoint-']").count() == 0
    # live values need a token: the page shows the API's refusal (its close reason)
    code, _, message = refusal_without_token(demo).partition(": ")
    error = page.wait_for_selector("[role=alert]").inner_text()
    assert message in error and code in error
    page.reload()  # the choice holds for the tab
    assert "anonymous" in page.wait_for_selector("[data-testid=who]").inner_text()


def refusal_without_token(demo: Demo) -> str:
    url = demo.base.replace("http", "ws", 1) + "/graphql"
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    return closed.value.rcvd.reason
