"""The one place the API's path prefix is written."""

API_PREFIX = "/api/v1"
