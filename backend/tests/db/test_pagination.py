from __future__ import annotations

from tests.factories import make_company


class TestKeysetPagination:
    async def test_walks_every_row_once_newest_first(self, client, session):
        made = [await make_company(session, name=f"c{i}") for i in range(7)]
        await session.commit()
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            r = await client.get("/_test/things", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            assert set(body) == {"items", "next_cursor"}
            seen += [item["name"] for item in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert seen == [c.name for c in reversed(made)]

    async def test_rows_added_meanwhile_do_not_shift_the_pages(self, client, session):
        for i in range(4):
            await make_company(session, name=f"old{i}")
        await session.commit()
        first = (await client.get("/_test/things", params={"limit": 2})).json()
        await make_company(session, name="new")
        await session.commit()
        second = (
            await client.get("/_test/things", params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()
        assert [i["name"] for i in first["items"]] == ["old3", "old2"]
        assert [i["name"] for i in second["items"]] == ["old1", "old0"]

    async def test_default_page_size_is_50(self, client, session):
        for i in range(51):
            await make_company(session, name=f"n{i}")
        await session.commit()
        body = (await client.get("/_test/things")).json()
        assert len(body["items"]) == 50
        assert body["next_cursor"] is not None

    async def test_empty_list(self, client):
        assert (await client.get("/_test/things")).json() == {"items": [], "next_cursor": None}
