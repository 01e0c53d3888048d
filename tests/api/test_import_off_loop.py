"""importPlant parses off the event loop: other requests are answered meanwhile
(issue 10 item 10: a 3 MB plant file stalled every request for 1.3 s)."""

from __future__ import annotations

import asyncio

from tests.support.app import Api

IMPORT = "mutation($d: String!) { importPlant(document: $d, format: YAML) { name } }"


def big_plant(areas: int) -> str:
    """A plant of ``areas`` areas, refused at the end (a repeated id): nothing is written."""
    lines = ["name: big", "assets:", "  - id: offloop-site", "    name: Big", "    type: site",
             "    level: site", "    children:"]  # fmt: skip
    for i in range(areas):
        lines += [
            f"      - id: offloop-a{i}",
            f"        name: Area number {i}",
            "        type: area",
            "        level: area",
            f"        description: a generated area, one of many, to make the file large {i}",
        ]
    lines += [
        "      - id: offloop-a0",
        "        name: Again",
        "        type: area",
        "        level: area",
    ]
    return "\n".join(lines) + "\n"


async def test_requests_are_answered_while_a_large_plant_is_parsed(api: Api) -> None:
    document = big_plant(30_000)
    assert len(document) > 3_000_000
    importing = asyncio.create_task(api.gql(IMPORT, {"d": document}))
    answered = 0
    while not importing.done():
        r = await api.client.get("/healthz")
        assert r.status_code == 200
        if not importing.done():
            answered += 1
        await asyncio.sleep(0.01)
    body = importing.result()
    (error, *_) = body["errors"]
    assert error["extensions"]["code"] == "VALIDATION"
    assert "offloop-a0" in str(body["errors"])
    # A parse on the event loop would hold every /healthz until it ended.
    assert answered >= 5, answered
