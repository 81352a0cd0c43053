"""Imports every model so that `Base.metadata` is complete (Alembic, tests, grants)."""

from models.api_key import ApiKey
from models.audit_log import AuditLog
from models.auth import RecoveryCode, RefreshToken, UserToken
from models.base import Base
from models.company import Company
from models.course import Course, CourseModule, CourseVersion, Lesson
from models.email_template import EmailTemplate
from models.enrollment import Certificate, Enrollment, LessonProgress, QuizAttempt
from models.group import Group, GroupManager, GroupMember
from models.landing_page import LandingPage
from models.phishing_campaign import CampaignRecipient, PhishingCampaign
from models.phishing_event import PhishingEvent
from models.sending_profile import SendingProfile
from models.training_campaign import TrainingCampaign, TrainingReminder
from models.user import User
from models.webhook import WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "AuditLog",
    "Base",
    "CampaignRecipient",
    "Certificate",
    "Company",
    "Course",
    "CourseModule",
    "CourseVersion",
    "EmailTemplate",
    "Enrollment",
    "Group",
    "GroupManager",
    "GroupMember",
    "LandingPage",
    "Lesson",
    "LessonProgress",
    "PhishingCampaign",
    "PhishingEvent",
    "QuizAttempt",
    "RecoveryCode",
    "RefreshToken",
    "SendingProfile",
    "TrainingCampaign",
    "TrainingReminder",
    "User",
    "UserToken",
    "WebhookDelivery",
    "WebhookEndpoint",
]
