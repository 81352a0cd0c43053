"""Static and rule-based groups: membership always current, and explained."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from models.group import Group, GroupMember
from tests.factories import make_user

RULES = {
    "match": "all",
    "conditions": [
        {"attribute": "department", "operator": "eq", "value": "Finance"},
        {"attribute": "location", "operator": "in", "value": ["Paris", "Lyon"]},
    ],
}


@pytest.fixture
async def people(session, tenant):
    """Finance in Paris and Lyon, Finance in Berlin, Sales in Paris."""
    made = {}
    for key, dept, loc in [
        ("paris", "Finance", "Paris"),
        ("lyon", "Finance", "Lyon"),
        ("berlin", "Finance", "Berlin"),
        ("sales", "Sales", "Paris"),
    ]:
        made[key] = await make_user(
            session,
            tenant.company,
            department=dept,
            location=loc,
            custom_attributes={"cost_center": f"CC-{key}"},
        )
    await session.commit()
    return made


async def create(client, headers, body):
    return await client.post("/api/v1/groups", json=body, headers=headers)


async def member_ids(client, headers, group_id) -> set[str]:
    r = await client.get(f"/api/v1/groups/{group_id}/members?limit=500", headers=headers)
    assert r.status_code == 200, r.text
    return {m["user"]["id"] for m in r.json()["items"]}


class TestRuleGroups:
    async def test_members_match_the_rules_and_say_why(self, client, tenant, people):
        r = await create(
            client, tenant.admin_headers, {"name": "Finance FR", "kind": "rule", "rules": RULES}
        )
        assert r.status_code == 201, r.text
        assert r.json()["member_count"] == 2
        r = await client.get(
            f"/api/v1/groups/{r.json()['id']}/members", headers=tenant.admin_headers
        )
        items = r.json()["items"]
        assert {m["user"]["id"] for m in items} == {str(people["paris"].id), str(people["lyon"].id)}
        assert items[0]["reasons"] == [
            "matched rule: department = Finance",
            "matched rule: location in Paris, Lyon",
        ]

    async def test_membership_follows_attribute_changes(self, client, tenant, people):
        group = (
            await create(
                client, tenant.admin_headers, {"name": "FR", "kind": "rule", "rules": RULES}
            )
        ).json()
        await client.patch(
            f"/api/v1/users/{people['berlin'].id}",
            json={"location": "Paris"},
            headers=tenant.admin_headers,
        )
        await client.patch(
            f"/api/v1/users/{people['paris'].id}",
            json={"department": "Legal"},
            headers=tenant.admin_headers,
        )
        assert await member_ids(client, tenant.admin_headers, group["id"]) == {
            str(people["lyon"].id),
            str(people["berlin"].id),
        }

    async def test_any_match_and_custom_attributes(self, client, tenant, people):
        rules = {
            "match": "any",
            "conditions": [
                {"attribute": "custom.cost_center", "operator": "eq", "value": "CC-sales"},
                {"attribute": "location", "operator": "eq", "value": "Berlin"},
            ],
        }
        group = (
            await create(
                client, tenant.admin_headers, {"name": "Mixed", "kind": "rule", "rules": rules}
            )
        ).json()
        assert await member_ids(client, tenant.admin_headers, group["id"]) == {
            str(people["sales"].id),
            str(people["berlin"].id),
        }

    async def test_email_domain_rule(self, client, session, tenant):
        inside = await make_user(session, tenant.company, email="ann@branch.acme.example.com")
        await make_user(session, tenant.company, email="bob@other.example.com")
        await session.commit()
        rules = {
            "conditions": [
                {"attribute": "email_domain", "operator": "eq", "value": "branch.acme.example.com"}
            ]
        }
        group = (
            await create(
                client, tenant.admin_headers, {"name": "Branch", "kind": "rule", "rules": rules}
            )
        ).json()
        assert await member_ids(client, tenant.admin_headers, group["id"]) == {str(inside.id)}

    async def test_rules_never_reach_another_company(
        self, client, session, tenant, other_tenant, people
    ):
        await make_user(session, other_tenant.company, department="Finance", location="Paris")
        await session.commit()
        group = (
            await create(
                client, tenant.admin_headers, {"name": "FR", "kind": "rule", "rules": RULES}
            )
        ).json()
        assert len(await member_ids(client, tenant.admin_headers, group["id"])) == 2

    @pytest.mark.parametrize(
        "rules",
        [
            {"conditions": []},
            {"conditions": [{"attribute": "password_hash", "operator": "eq", "value": "x"}]},
            {"conditions": [{"attribute": "location", "operator": "in", "value": "Paris"}]},
            {"conditions": [{"attribute": "location", "operator": "regex", "value": ".*"}]},
            {
                "match": "some",
                "conditions": [{"attribute": "location", "operator": "eq", "value": "x"}],
            },
        ],
    )
    async def test_bad_rules_are_422_and_nothing_is_created(self, client, session, tenant, rules):
        r = await create(
            client, tenant.admin_headers, {"name": "Bad", "kind": "rule", "rules": rules}
        )
        assert r.status_code == 422
        assert await session.scalar(select(func.count()).select_from(Group)) == 0

    async def test_members_cannot_be_added_by_hand(self, client, tenant, people):
        group = (
            await create(
                client, tenant.admin_headers, {"name": "FR", "kind": "rule", "rules": RULES}
            )
        ).json()
        r = await client.post(
            f"/api/v1/groups/{group['id']}/members",
            json={"user_ids": [str(people["sales"].id)]},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "not_a_static_group"


class TestStaticGroups:
    async def test_add_list_remove(self, client, session, tenant, people):
        ids = [str(people["paris"].id), str(people["sales"].id)]
        group = (
            await create(client, tenant.admin_headers, {"name": "Pilot", "member_ids": ids[:1]})
        ).json()
        assert group["member_count"] == 1
        r = await client.post(
            f"/api/v1/groups/{group['id']}/members",
            json={"user_ids": ids},
            headers=tenant.admin_headers,
        )
        assert r.json() == {"added": 1}
        r = await client.get(f"/api/v1/groups/{group['id']}/members", headers=tenant.admin_headers)
        assert {m["user"]["id"] for m in r.json()["items"]} == set(ids)
        assert r.json()["items"][0]["reasons"] == ["added to the group"]
        r = await client.delete(
            f"/api/v1/groups/{group['id']}/members?user_id={ids[0]}", headers=tenant.admin_headers
        )
        assert r.status_code == 204
        assert await member_ids(client, tenant.admin_headers, group["id"]) == {ids[1]}

    async def test_another_companys_user_cannot_be_added(
        self, client, session, tenant, other_tenant
    ):
        group = (await create(client, tenant.admin_headers, {"name": "Pilot"})).json()
        r = await client.post(
            f"/api/v1/groups/{group['id']}/members",
            json={"user_ids": [str(other_tenant.learner.id)]},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "unknown_users"
        assert await session.scalar(select(func.count()).select_from(GroupMember)) == 0

    async def test_duplicate_name_is_409(self, client, tenant):
        assert (await create(client, tenant.admin_headers, {"name": "Pilot"})).status_code == 201
        r = await create(client, tenant.admin_headers, {"name": "Pilot"})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "group_name_taken"

    async def test_deleted_group_is_gone_and_its_name_free(self, client, tenant):
        group = (await create(client, tenant.admin_headers, {"name": "Pilot"})).json()
        assert (
            await client.delete(f"/api/v1/groups/{group['id']}", headers=tenant.admin_headers)
        ).status_code == 204
        assert (
            await client.get(f"/api/v1/groups/{group['id']}", headers=tenant.admin_headers)
        ).status_code == 404
        assert (await create(client, tenant.admin_headers, {"name": "Pilot"})).status_code == 201


class TestGroupAccess:
    async def test_other_company_group_is_404_everywhere(self, client, tenant, other_tenant):
        group = (await create(client, tenant.admin_headers, {"name": "Secret"})).json()
        h = other_tenant.admin_headers
        gid = group["id"]
        assert (await client.get(f"/api/v1/groups/{gid}", headers=h)).status_code == 404
        assert (
            await client.patch(f"/api/v1/groups/{gid}", json={"name": "x"}, headers=h)
        ).status_code == 404
        assert (await client.delete(f"/api/v1/groups/{gid}", headers=h)).status_code == 404
        assert (await client.get(f"/api/v1/groups/{gid}/members", headers=h)).status_code == 404
        r = await client.post(
            f"/api/v1/groups/{gid}/members", json={"user_ids": [str(uuid.uuid4())]}, headers=h
        )
        assert r.status_code == 404
        r = await client.put(f"/api/v1/groups/{gid}/managers", json={"user_ids": []}, headers=h)
        assert r.status_code == 404
        assert (await client.get("/api/v1/groups", headers=h)).json()["items"] == []

    async def test_manager_sees_only_the_groups_they_manage(self, client, tenant):
        mine = (await create(client, tenant.admin_headers, {"name": "Mine"})).json()
        other = (await create(client, tenant.admin_headers, {"name": "Other"})).json()
        r = await client.put(
            f"/api/v1/groups/{mine['id']}/managers",
            json={"user_ids": [str(tenant.manager.id)]},
            headers=tenant.admin_headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["manager_ids"] == [str(tenant.manager.id)]
        h = tenant.manager_headers
        assert (await client.get(f"/api/v1/groups/{mine['id']}", headers=h)).status_code == 200
        assert (await client.get(f"/api/v1/groups/{other['id']}", headers=h)).status_code == 404
        listed = (await client.get("/api/v1/groups", headers=h)).json()["items"]
        assert [g["id"] for g in listed] == [mine["id"]]

    async def test_only_managers_and_admins_can_manage_a_group(self, client, tenant, other_tenant):
        group = (await create(client, tenant.admin_headers, {"name": "Pilot"})).json()
        for user_id in (tenant.learner.id, other_tenant.manager.id):
            r = await client.put(
                f"/api/v1/groups/{group['id']}/managers",
                json={"user_ids": [str(user_id)]},
                headers=tenant.admin_headers,
            )
            assert r.status_code == 400
            assert r.json()["error"]["code"] == "invalid_group_managers"

    async def test_manager_cannot_write_learner_is_refused(self, client, tenant):
        group = (await create(client, tenant.admin_headers, {"name": "Pilot"})).json()
        await client.put(
            f"/api/v1/groups/{group['id']}/managers",
            json={"user_ids": [str(tenant.manager.id)]},
            headers=tenant.admin_headers,
        )
        assert (
            await client.get(f"/api/v1/groups/{group['id']}", headers=tenant.manager_headers)
        ).status_code == 200
        assert (await create(client, tenant.manager_headers, {"name": "Nope"})).status_code == 403
        assert (
            await client.get("/api/v1/groups", headers=tenant.learner_headers)
        ).status_code == 403


class TestManagerVisibility:
    async def test_manager_sees_only_people_of_managed_groups(self, client, tenant, people):
        group = (
            await create(
                client, tenant.admin_headers, {"name": "FR", "kind": "rule", "rules": RULES}
            )
        ).json()
        await client.put(
            f"/api/v1/groups/{group['id']}/managers",
            json={"user_ids": [str(tenant.manager.id)]},
            headers=tenant.admin_headers,
        )
        h = tenant.manager_headers
        listed = (await client.get("/api/v1/users?limit=500", headers=h)).json()["items"]
        assert {u["id"] for u in listed} == {str(people["paris"].id), str(people["lyon"].id)}
        assert (
            await client.get(f"/api/v1/users/{people['paris'].id}", headers=h)
        ).status_code == 200
        assert (
            await client.get(f"/api/v1/users/{people['sales'].id}", headers=h)
        ).status_code == 404

    async def test_manager_of_no_group_sees_no_one(self, client, tenant, people):
        r = await client.get("/api/v1/users", headers=tenant.manager_headers)
        assert r.status_code == 200
        assert r.json()["items"] == []
