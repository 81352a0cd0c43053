"""A launched campaign whose emails really went out, for report and results tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.phishing_campaign import CampaignRecipient
from services import phishing_sender
from tests.factories import make_user
from tests.support.phishing import (
    PHISHING,
    make_campaign,
    make_profile,
    make_static_group,
    make_template,
)
from tests.support.smtp import smtp_test_server


@dataclass
class SentCampaign:
    id: str
    recipients: list[CampaignRecipient]  # in the order of the people made
    messages: dict[str, EmailMessage]  # by recipient email, as the SMTP server got them

    def recipient(self, i: int) -> CampaignRecipient:
        return self.recipients[i]

    def raw(self, i: int) -> bytes:
        return self.messages[self.recipients[i].email].as_bytes()


async def sent_campaign(
    client: AsyncClient,
    session: AsyncSession,
    tenant: Any,
    *,
    n: int = 3,
    departments: list[str | None] | None = None,
    smtp_replies: dict[int, str] | None = None,
    landing_page: dict[str, Any] | None = None,
    template: dict[str, Any] | None = None,
    **campaign: Any,
) -> SentCampaign:
    """`n` people (department from `departments`), one campaign to all, sent through a real
    SMTP server on loopback; `smtp_replies` makes the server refuse person i.
    `landing_page` (a create body), `template` (extra template fields) and `campaign`
    (extra campaign fields) shape the campaign."""
    tag = uuid.uuid4().hex[:6]
    users = [
        await make_user(
            session,
            tenant.company,
            email=f"p{i}.{tag}@acme.example.com",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            department=(departments[i] if departments else None),
        )
        for i in range(n)
    ]
    await session.commit()
    emails = [u.email for u in users]
    replies = {emails[i]: reply for i, reply in (smtp_replies or {}).items()}
    async with smtp_test_server(replies=replies) as smtp:
        profile = await make_profile(client, tenant.admin_headers, port=smtp.port)
        template_id = await make_template(client, tenant.admin_headers, **(template or {}))
        group = await make_static_group(client, tenant.admin_headers, [str(u.id) for u in users])
        if landing_page is not None:
            r = await client.post(
                f"{PHISHING}/landing-pages", json=landing_page, headers=tenant.admin_headers
            )
            assert r.status_code == 201, r.text
            campaign["landing_page_id"] = r.json()["id"]
        created = await make_campaign(
            client,
            tenant.admin_headers,
            profile_id=profile,
            template_ids=[template_id],
            group_ids=[group],
            **campaign,
        )
        r = await client.post(
            f"{PHISHING}/campaigns/{created['id']}/launch", json={}, headers=tenant.admin_headers
        )
        assert r.status_code == 200, r.text
        await phishing_sender.run_pass()
    # Delivered an hour ago: a hit seconds after delivery would be suspected automated.
    await session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == uuid.UUID(created["id"]),
            CampaignRecipient.sent_at.is_not(None),
        )
        .values(sent_at=datetime.now(UTC) - timedelta(hours=1))
    )
    await session.commit()
    rows = await session.scalars(
        select(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == uuid.UUID(created["id"]))
        .execution_options(populate_existing=True)
    )
    by_email = {r.email: r for r in rows}
    return SentCampaign(
        id=str(created["id"]),
        recipients=[by_email[e] for e in emails],
        messages={m.rcpt_tos[0]: m.message for m in smtp.received},
    )
