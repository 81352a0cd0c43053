"""Task entry points. Each is thin: it takes ids, opens its own unit of work, re-checks
state and calls a service, so running it twice does no harm. Importing this module
registers every task with the broker (the worker process imports it at start)."""

from __future__ import annotations

from worker import webhooks  # noqa: F401  (registers the webhook task and loop)
