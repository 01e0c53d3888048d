"""GraphiQL at /graphql works with no network: every file the page loads is served by
twinql itself, and the page opens with twinql's example query and the token hint."""

from __future__ import annotations

import gzip
import re

import httpx
from graphql import parse, validate

from api.ide import ASSET_PATH
from api.schema import build_schema
from tests.support.app import Api


async def _page(api: Api) -> str:
    r = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    return r.text


async def test_the_page_loads_nothing_from_elsewhere(api: Api) -> None:
    html = await _page(api)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(urls) == 6, urls  # react, react-dom, graphiql js+css, explorer js+css
    assert not [u for u in urls if not u.startswith(ASSET_PATH + "/")], urls
    assert "unpkg" not in html and "cdn" not in html.lower()


async def test_every_file_of_the_page_is_served_gzipped_and_cached(api: Api) -> None:
    html = await _page(api)
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        r = await api.client.get(url, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, url
        assert r.headers["content-encoding"] == "gzip"
        assert "immutable" in r.headers["cache-control"]
        kind = "javascript" if url.endswith(".js") else "css"
        assert kind in r.headers["content-type"], (url, r.headers["content-type"])
        assert len(r.content) > 100  # httpx decoded it


async def test_a_client_without_gzip_gets_the_plain_file(api: Api) -> None:
    url = f"{ASSET_PATH}/react-18.2.0.production.min.js"
    async with httpx.AsyncClient(base_url=api.base) as raw:
        r = await raw.get(url, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert "content-encoding" not in r.headers
    assert b"React" in r.content[:2000]
    packed = await api.client.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.content == r.content
    assert gzip.compress(r.content)  # a real file, not an error text


async def test_unknown_and_sneaky_asset_names_are_404(api: Api) -> None:
    for name in ["nope.js", "..%2Fgraphiql.html", "LICENSES.txt", "%2Fetc%2Fpasswd"]:
        r = await api.client.get(f"{ASSET_PATH}/{name}")
        assert r.status_code == 404, name


async def test_the_page_opens_with_a_valid_example_and_the_token_hint(api: Api) -> None:
    html = await _page(api)
    assert '{"Authorization": "Bearer <key>"}' in html
    assert ".twinql/first-keys.json" in html and ".twinql/tokens.json" not in html
    example = re.search(r"const EXAMPLE_QUERY = `(.*?)`;", html, re.S)
    assert example is not None
    query = "\n".join(line for line in example.group(1).splitlines() if not line.startswith("#"))
    assert validate(build_schema()._schema, parse(query)) == []
    assert "asset(id:" in query and "impact(assetId:" in query
