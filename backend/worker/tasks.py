"""Task entry points. Each is thin: it takes ids, opens its own unit of work, re-checks
state and calls a service, so running it twice does no harm. Importing this module
registers every task with the broker (the worker process imports it at start)."""

from __future__ import annotations

from core.config import settings
from services import phishing_sender, training_reminders
from worker import webhooks  # noqa: F401  (registers the webhook task and loop)
from worker.loops import periodic


@periodic("phishing-sends", settings.send_poll_seconds)
async def send_due_phishing_emails() -> None:
    """Claim and send due simulation emails; settle stale handovers; complete campaigns."""
    await phishing_sender.run_pass()


@periodic("training", settings.training_poll_seconds)
async def run_training_pass() -> None:
    """Start due training campaigns, auto-enroll newcomers, plan and send reminders."""
    await training_reminders.run_pass()
