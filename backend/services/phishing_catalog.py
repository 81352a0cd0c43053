# ruff: noqa: E501 - lure copy reads better unbroken
"""The platform's phishing templates: realistic lures written for Vigil, from easy to hard.

They live in code, not in any company's rows, so every company sees the same catalog and
copies a lure into its own templates to adapt it. Each is validated by the test suite with
the same sandbox as user templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CatalogTemplate:
    slug: str
    name: str
    subject: str
    html: str
    text: str
    difficulty: int
    red_flags: list[str] = field(default_factory=list)
    language: str = "en"


def _html(*paragraphs: str) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f'<html><body style="font-family: Arial, sans-serif">\n{body}\n{{{{ tracking_pixel }}}}\n</body></html>'


CATALOG: tuple[CatalogTemplate, ...] = (
    CatalogTemplate(
        slug="parcel-delivery",
        name="Parcel could not be delivered",
        subject="Delivery attempt failed: action required for parcel #48213",
        html=_html(
            "Dear customer,",
            "We tried to deliver your parcel today but nobody was available to sign for it.",
            'Please <a href="{{ url }}">reschedule your delivery</a> within 48 hours, or the '
            "parcel will be returned to the sender. A redelivery fee of 1.99 may apply.",
            "Parcel Service Customer Care",
        ),
        text="Dear customer,\n\nWe tried to deliver your parcel today but nobody was available.\n"
        "Reschedule within 48 hours: {{ url }}\n\nParcel Service Customer Care\n",
        difficulty=1,
        red_flags=[
            "You were not expecting a parcel, and it does not name the sender or the carrier",
            "Generic greeting ('Dear customer') instead of your name",
            "Urgency and a small fee to make you enter card details",
            "The link does not go to a carrier's real website",
        ],
    ),
    CatalogTemplate(
        slug="password-expiry",
        name="Your password expires today",
        subject="{{ company_name }} IT: your password expires in 24 hours",
        html=_html(
            "Hello {{ first_name }},",
            "The password for {{ email }} expires today. To keep access to email and files, "
            'confirm your current password and choose a new one: <a href="{{ url }}">Keep my password</a>.',
            "IT Service Desk",
        ),
        text="Hello {{ first_name }},\n\nThe password for {{ email }} expires today.\n"
        "Keep it here: {{ url }}\n\nIT Service Desk\n",
        difficulty=2,
        red_flags=[
            "IT never asks you to type your current password into a link from an email",
            "A deadline designed to rush you",
            "The sign-in page the link opens is not your company's usual one",
        ],
    ),
    CatalogTemplate(
        slug="shared-document",
        name="A document was shared with you",
        subject="{{ first_name }}, a document was shared with you: Q3 budget review.xlsx",
        html=_html(
            "Hi {{ first_name }},",
            "Maria from Finance shared <b>Q3 budget review.xlsx</b> with you and asked for your "
            "comments before Friday.",
            '<a href="{{ url }}">Open in browser</a>',
            "You received this because you are a member of {{ department }}.",
        ),
        text="Hi {{ first_name }},\n\nMaria from Finance shared 'Q3 budget review.xlsx' with you.\n"
        "Open: {{ url }}\n",
        difficulty=3,
        red_flags=[
            "Check who really shared it: hover over the link before clicking",
            "A sign-in page after clicking a 'shared file' is a classic way to steal passwords",
            "The sender's address is not from your company's domain",
        ],
    ),
    CatalogTemplate(
        slug="overdue-invoice",
        name="Overdue invoice",
        subject="RE: Invoice INV-20931 overdue - please process today",
        html=_html(
            "Hello,",
            "Following up on the invoice below, which is now 14 days overdue. Our accounts team "
            'will suspend deliveries if payment is not received. <a href="{{ url }}">View invoice INV-20931</a>',
            "Kind regards,<br>Accounts Receivable",
        ),
        text="Hello,\n\nInvoice INV-20931 is 14 days overdue. View it: {{ url }}\n\n"
        "Accounts Receivable\n",
        difficulty=2,
        red_flags=[
            "'RE:' on a conversation you never had",
            "Pressure to pay quickly, from a supplier you cannot place",
            "Invoices come through the purchasing process, not a link in an email",
        ],
    ),
    CatalogTemplate(
        slug="hr-policy",
        name="New HR policy to acknowledge",
        subject="Action required: acknowledge the updated remote-work policy",
        html=_html(
            "Dear {{ first_name }} {{ last_name }},",
            "Human Resources has updated the remote-work and expenses policy. All employees must "
            'read and acknowledge it by the end of the week: <a href="{{ url }}">Review and sign</a>.',
            "Thank you,<br>People Team, {{ company_name }}",
        ),
        text="Dear {{ first_name }} {{ last_name }},\n\nPlease acknowledge the updated remote-work "
        "policy by the end of the week: {{ url }}\n\nPeople Team, {{ company_name }}\n",
        difficulty=3,
        red_flags=[
            "HR policies are published on the intranet you already know",
            "It asks you to sign in to 'sign' a document",
            "The from address only looks like HR's",
        ],
    ),
    CatalogTemplate(
        slug="mfa-reset",
        name="Multi-factor authentication reset",
        subject="Security alert: confirm your MFA device to avoid lockout",
        html=_html(
            "Hello {{ first_name }},",
            "We detected a sign-in to your account from a new device in another country. If this "
            "was not you, your multi-factor authentication will be reset.",
            '<a href="{{ url }}">Confirm my device</a> within 2 hours to keep your account.',
            "Security Operations",
        ),
        text="Hello {{ first_name }},\n\nA new device signed in to your account. Confirm your "
        "MFA device within 2 hours: {{ url }}\n\nSecurity Operations\n",
        difficulty=4,
        red_flags=[
            "Fear and a short deadline are used to stop you thinking",
            "Real security alerts do not ask you to approve a device through a link",
            "If you approve an MFA prompt you did not start, you let the attacker in",
        ],
    ),
    CatalogTemplate(
        slug="ceo-gift-cards",
        name="Urgent favour from the CEO",
        subject="Quick favour",
        html=_html(
            "{{ first_name }}, are you at your desk?",
            "I need you to handle something for me discreetly today: gift cards for a few clients. "
            'I am in meetings all afternoon, so use <a href="{{ url }}">this order form</a> and '
            "send me the codes. I'll make sure you're reimbursed.",
            "Sent from my phone",
        ),
        text="{{ first_name }}, are you at your desk? I need gift cards for a few clients today, "
        "discreetly. Order here: {{ url }}\n\nSent from my phone\n",
        difficulty=3,
        red_flags=[
            "An executive asking for gift cards is almost always a scam",
            "Secrecy ('discreetly') and unavailability ('in meetings') stop you from checking",
            "Check through another channel you already know, not by replying",
        ],
    ),
    CatalogTemplate(
        slug="benefits-enrolment",
        name="Benefits enrolment closing",
        subject="Last day to update your {{ company_name }} benefits selection",
        html=_html(
            "Hi {{ first_name }},",
            "Open enrolment for next year's benefits closes tonight. Employees who do not confirm "
            'their selection keep the basic plan. <a href="{{ url }}">Review my benefits</a>',
            "Benefits Administration",
        ),
        text="Hi {{ first_name }},\n\nBenefits enrolment closes tonight. Review yours: {{ url }}\n",
        difficulty=4,
        red_flags=[
            "Plausible and well timed: check the real benefits portal yourself",
            "The link's domain is not your benefits provider's",
        ],
    ),
    CatalogTemplate(
        slug="voicemail",
        name="New voicemail",
        subject="New voicemail from +44 20 7946 0018 (0:47)",
        html=_html(
            "You have a new voicemail message.",
            "From: +44 20 7946 0018<br>Length: 0:47",
            '<a href="{{ url }}">Listen to the message</a>',
        ),
        text="You have a new voicemail (0:47) from +44 20 7946 0018. Listen: {{ url }}\n",
        difficulty=2,
        red_flags=[
            "Voicemail normally reaches you on your phone, not as a link to sign in to",
            "No name, no context: curiosity is the bait",
        ],
    ),
    CatalogTemplate(
        slug="meeting-invitation",
        name="Updated meeting invitation",
        subject="Updated invitation: {{ department }} planning @ Thu 10:00",
        html=_html(
            "Hi {{ first_name }},",
            "The {{ department }} planning meeting has moved to Thursday 10:00. The agenda and the "
            'new call link are in the <a href="{{ url }}">updated invitation</a>.',
            "Please accept so the organiser can plan the room.",
        ),
        text="Hi {{ first_name }},\n\nThe {{ department }} planning meeting moved to Thursday 10:00.\n"
        "Updated invitation: {{ url }}\n",
        difficulty=5,
        red_flags=[
            "Calendar changes arrive in your calendar, not as a web link",
            "It uses your real department to look routine",
            "The organiser is not named",
        ],
    ),
)

BY_SLUG = {template.slug: template for template in CATALOG}
