"""HTTP layer: every resource's routes, all under `/api/v1` (`api.prefix.API_PREFIX`).

The routers carry the full prefix themselves and `main` adds their routes to the app
directly: FastAPI 0.165 resolves `include_router` nests on every request, which measured
at ~150 µs a request for these routes. WebSocket routes (`live`) are added the same way.

Importing `api.routes.live` also registers the listener that publishes each recorded
phishing event to the live stream (`services.live`).
"""

from starlette.routing import BaseRoute

from api.routes import (
    api_keys,
    audit_logs,
    auth,
    certificates,
    companies,
    courses,
    email_templates,
    files,
    groups,
    landing_pages,
    learning,
    live,
    phishing_campaigns,
    phishing_reports,
    phishing_results,
    sending_profiles,
    tracking,
    training_campaigns,
    user_enrollments,
    user_import,
    users,
    webhooks,
)

ROUTERS = (
    # The public tracking links first: the router tries routes in order, and these are
    # hit by every recipient of every campaign.
    tracking,
    auth,
    user_import,
    users,
    groups,
    companies,
    api_keys,
    audit_logs,
    sending_profiles,
    email_templates,
    landing_pages,
    phishing_campaigns,
    phishing_reports,
    phishing_results,
    live,
    files,
    webhooks,
    courses,
    learning,
    certificates,
    training_campaigns,
    user_enrollments,
)


def api_routes() -> list[BaseRoute]:
    return [route for module in ROUTERS for route in module.router.routes]
