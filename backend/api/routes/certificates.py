"""The public certificate check: the code printed on a certificate is the credential."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.dependencies.common import SessionDep, UnitOfWorkRoute
from schemas.base import ErrorResponse
from schemas.learning import CertificateVerified
from services import certificates

router = APIRouter(route_class=UnitOfWorkRoute, tags=["learning"])


@router.get("/certificates/verify/{code}", responses={404: {"model": ErrorResponse}})
async def verify_certificate(
    code: Annotated[str, Path(max_length=64)], session: SessionDep
) -> CertificateVerified:
    """Check a certificate: shows only what it states (learner, course, company, date)."""
    found = await certificates.verify(session, code)
    return CertificateVerified(
        learner_name=found.learner_name,
        course_title=found.course_title,
        company_name=found.company_name,
        issued_at=found.issued_at,
    )
