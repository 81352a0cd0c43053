"""Framework-level plumbing: settings, errors, middleware, logging, metrics, limits."""
