"""Webhook delivery: the nudge sent after a commit that wrote deliveries, and the polling
loop that finds anything a lost nudge, a failure or an expired lease left due.

A module of its own (not `worker.tasks`) so that `services.webhooks.emit`, which features
everywhere call, can import the task without importing every other task's service."""

from __future__ import annotations

from core.config import settings
from services.webhook_delivery import deliver_due_webhooks
from worker.broker import broker
from worker.loops import periodic


@broker.task(task_name="webhooks.deliver")
async def deliver_webhooks() -> None:
    await deliver_due_webhooks()


@periodic("webhook_deliveries", settings.worker_poll_seconds)
async def poll_webhook_deliveries() -> None:
    await deliver_due_webhooks()
