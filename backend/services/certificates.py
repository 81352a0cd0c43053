"""Certificates: issued once when an enrollment is completed, stating who finished which
course for which company and when. The verification code is 160 random bits (not derived
from any id), the credential of the public check `GET /certificates/verify/{code}`, which
shows only what the certificate states.
"""

from __future__ import annotations

import io
import uuid

import segno
from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import settings
from core.crypto import new_token
from core.exceptions import NotFound
from db.pagination import PageParams, PageResult, paginate
from db.scoping import AuthContext, auth_lookup, scoped_select
from models.company import Company
from models.enrollment import Certificate, Enrollment
from models.user import User

CODE_BYTES = 20


class CertificateNotFound(NotFound):
    code = "certificate_not_found"
    message = "No such certificate."


def verify_url(code: str) -> str:
    return f"{settings.public_url.rstrip('/')}/certificates/verify/{code}"


async def issue(session: AsyncSession, enrollment: Enrollment, course_title: str) -> Certificate:
    existing = await session.scalar(
        select(Certificate).where(Certificate.enrollment_id == enrollment.id)
    )
    if existing is not None:
        return existing
    user = await session.get(User, enrollment.user_id)
    company = await session.get(Company, enrollment.company_id)
    certificate = Certificate(
        company_id=enrollment.company_id,
        enrollment_id=enrollment.id,
        user_id=enrollment.user_id,
        code=new_token(CODE_BYTES),
        learner_name=user.full_name if user else "",
        course_title=course_title,
        company_name=company.name if company else "",
        issued_at=enrollment.completed_at,
    )
    session.add(certificate)
    await session.flush()
    return certificate


async def list_mine(
    session: AsyncSession, auth: AuthContext, page: PageParams
) -> PageResult[Certificate]:
    stmt = scoped_select(Certificate, auth).where(Certificate.user_id == auth.user_id)
    return await paginate(session, stmt, page, order_by=(Certificate.id,))


async def get_mine(
    session: AsyncSession, auth: AuthContext, certificate_id: uuid.UUID
) -> Certificate:
    found = await session.scalar(
        scoped_select(Certificate, auth).where(
            Certificate.user_id == auth.user_id, Certificate.id == certificate_id
        )
    )
    if found is None:
        raise CertificateNotFound()
    return found  # type: ignore[no-any-return]


async def verify(session: AsyncSession, code: str) -> Certificate:
    """Anyone holding the code; an unknown code is a plain 404 that tells nothing."""
    if not code or len(code) > 64:
        raise CertificateNotFound()
    async with auth_lookup(session):
        found = await session.scalar(select(Certificate).where(Certificate.code == code))
    if found is None:
        raise CertificateNotFound()
    return found


def render_pdf(certificate: Certificate) -> bytes:
    """A one-page A4 landscape certificate with the verification link and its QR code."""
    link = verify_url(certificate.code)
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(f"Certificate: {certificate.course_title}")
    pdf.set_creator(settings.app_name)
    pdf.add_page()
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_font("Helvetica", "B", 30)
    pdf.set_y(35)
    pdf.cell(0, 14, "Certificate of completion", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 14)
    pdf.cell(0, 12, "This certifies that", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 22)
    pdf.cell(0, 14, _latin(certificate.learner_name), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 14)
    pdf.cell(0, 10, "has completed the course", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 12, _latin(certificate.course_title), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 12)
    issued = certificate.issued_at.strftime("%d %B %Y")
    line = f"{certificate.company_name} - {issued}"
    pdf.cell(0, 10, _latin(line), align="C", new_x="LMARGIN", new_y="NEXT")
    qr = io.BytesIO()
    segno.make(link, error="m").save(qr, kind="png", scale=6, border=1)
    qr.seek(0)
    pdf.image(qr, x=20, y=150, w=40, h=40)
    pdf.set_xy(65, 165)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"Verification code: {certificate.code}", new_x="LEFT", new_y="NEXT")
    pdf.cell(0, 6, f"Verify at {link}", link=link)
    return bytes(pdf.output())


def _latin(text: str) -> str:
    """The core PDF fonts cover Latin-1; anything else is replaced rather than failing."""
    return text.encode("latin-1", "replace").decode("latin-1")
