"""Background work: a taskiq broker for jobs, and polling loops for durable rows.

Jobs are nudges; the rows they point at (sends, reminders, webhook deliveries) are the
source of truth, and the loops in `worker.loops` find any that a lost nudge left behind.
"""
