"""CSV import: upsert by email, dry run, all or nothing, clear errors."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.audit_log import AuditLog
from models.user import User
from tests.factories import make_user

URL = "/api/v1/users/import"


async def upload(
    client, headers, text: str | bytes, *, dry_run: bool = False, name: str = "people.csv"
):
    data = text.encode() if isinstance(text, str) else text
    params = {"dry_run": "true"} if dry_run else {}
    return await client.post(
        URL, params=params, files={"file": (name, data, "text/csv")}, headers=headers
    )


async def count_users(session) -> int:
    return await session.scalar(select(func.count()).select_from(User)) or 0


CSV = (
    "Email,First Name,Last Name,Department,Title,Manager Email,Office,Time zone,Cost Center\n"
    "boss@acme.example.com,Bea,Boss,Exec,CEO,,Paris,Europe/Paris,CC1\n"
    "ann@acme.example.com,Ann,Lee,Finance,Analyst,boss@acme.example.com,Lyon,,CC2\n"
)


class TestImport:
    async def test_creates_users_with_columns_matched_by_header(self, client, session, tenant):
        r = await upload(client, tenant.admin_headers, CSV)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["created"], body["updated"], body["rejected"]) == (2, 0, 0)
        ann = await session.scalar(select(User).where(User.email == "ann@acme.example.com"))
        boss = await session.scalar(select(User).where(User.email == "boss@acme.example.com"))
        assert ann.company_id == tenant.company.id
        assert (ann.first_name, ann.department, ann.job_title, ann.location) == (
            "Ann",
            "Finance",
            "Analyst",
            "Lyon",
        )
        assert ann.manager_id == boss.id
        assert ann.custom_attributes == {"Cost Center": "CC2"}
        assert boss.timezone == "Europe/Paris"
        assert ann.status.value == "invited"
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "user.imported"))
        assert entry.changes["created"] == 2

    async def test_updates_existing_users_by_email(self, client, session, tenant):
        await upload(client, tenant.admin_headers, CSV)
        changed = CSV.replace("Finance,Analyst", "Risk,Analyst")
        r = await upload(client, tenant.admin_headers, changed)
        body = r.json()
        assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 1)
        ann = next(row for row in body["rows"] if row["email"] == "ann@acme.example.com")
        assert ann["changes"] == {"department": "Risk"}
        assert await count_users(session) == 3 + 2  # the tenant's three plus two imported

    async def test_dry_run_reports_and_writes_nothing(self, client, session, tenant):
        before = await count_users(session)
        r = await upload(
            client, tenant.admin_headers, CSV + "not-an-email,X,Y,,,,,,\n", dry_run=True
        )
        assert r.status_code == 200
        body = r.json()
        assert body["dry_run"] is True
        assert [row["action"] for row in body["rows"]] == ["create", "create", "reject"]
        assert body["rows"][2]["errors"][0].startswith("email:")
        assert await count_users(session) == before

    async def test_a_bad_row_rejects_the_whole_file(self, client, session, tenant):
        before = await count_users(session)
        bad = CSV + "carl@acme.example.com,Carl,,,,nobody@acme.example.com,,Mars/Olympus,\n"
        r = await upload(client, tenant.admin_headers, bad)
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["code"] == "import_rejected"
        assert error["details"]["rejected"] == 1
        assert error["details"]["rows"][0]["row"] == 4
        assert any("timezone" in e for e in error["details"]["rows"][0]["errors"])
        assert await count_users(session) == before

    async def test_duplicate_rows_are_named(self, client, tenant):
        dup = CSV + "ANN@acme.example.com,Ann,Again,,,,,,\n"
        r = await upload(client, tenant.admin_headers, dup, dry_run=True)
        row = r.json()["rows"][2]
        assert row["action"] == "reject"
        assert row["errors"] == ["email: same address as row 3"]

    async def test_email_of_another_company_is_rejected_without_saying_whose(
        self, client, tenant, other_tenant
    ):
        text = f"email\n{other_tenant.learner.email}\n"
        r = await upload(client, tenant.admin_headers, text, dry_run=True)
        row = r.json()["rows"][0]
        assert row["action"] == "reject"
        assert "Globex" not in str(row)

    async def test_semicolon_separated_files_are_read(self, client, tenant):
        r = await upload(
            client, tenant.admin_headers, "email;department\nz@acme.example.com;Ops\n", dry_run=True
        )
        assert r.json()["rows"][0]["changes"] == {"department": "Ops"}


class TestBadFiles:
    @pytest.mark.parametrize(
        ("content", "fragment"),
        [
            (b"name,department\nAnn,Finance\n", "No email column"),
            (b"", "empty"),
            (b"email\n", "no rows"),
            ("email,name\nb\xe9a@x.example.com,B\xe9a\n".encode("latin-1"), "UTF-8"),
            (b"email,email_address\na@x.example.com,a@x.example.com\n", "mean the same thing"),
        ],
    )
    async def test_clear_400(self, client, session, tenant, content, fragment):
        before = await count_users(session)
        r = await upload(client, tenant.admin_headers, content)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_csv"
        assert fragment in r.json()["error"]["message"]
        assert await count_users(session) == before

    async def test_a_100_mb_file_is_413(self, client, tenant):
        r = await upload(client, tenant.admin_headers, b"email\n" + b"a" * (100 * 1024 * 1024))
        assert r.status_code == 413

    async def test_learner_and_manager_cannot_import(self, client, tenant):
        assert (await upload(client, tenant.learner_headers, CSV)).status_code == 403
        assert (await upload(client, tenant.manager_headers, CSV)).status_code == 403

    async def test_existing_users_keep_their_role_and_status(self, client, session, tenant):
        boss = await make_user(
            session, tenant.company, email="boss@acme.example.com", department="Old"
        )
        await session.commit()
        await upload(client, tenant.admin_headers, CSV)
        await session.refresh(boss)
        assert boss.department == "Exec"
        assert boss.status.value == "active"
