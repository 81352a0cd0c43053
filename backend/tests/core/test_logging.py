from __future__ import annotations

import io
import json
import logging

import pytest
from loguru import logger

from core.config import Settings
from core.context import request_id_var
from core.logging import REDACTED, redact_text, setup_logging


class TestRedaction:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("login failed password=hunter2hunter2", "hunter2hunter2"),
            ('body {"password": "Tr0ub4dor&3"}', "Tr0ub4dor&3"),
            ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9"),
            ("connect postgresql://vigil:s3cr3tpw@db:5432/vigil", "s3cr3tpw"),
            ("reset_token=abcdefghijklmnop&x=1", "abcdefghijklmnop"),
            ("api_key: vk_live_0123456789", "vk_live_0123456789"),
        ],
    )
    def test_secret_is_masked(self, text, secret):
        out = redact_text(text)
        assert secret not in out
        assert REDACTED in out

    def test_ordinary_text_is_left_alone(self):
        text = "GET /api/v1/users/{user_id} 200 1.2ms"
        assert redact_text(text) == text


@pytest.fixture
def captured():
    stream = io.StringIO()
    setup_logging(Settings(env="test", log_json=True, log_level="DEBUG"))
    logger.remove()
    from core import logging as vigil_logging

    logger.add(stream, format=vigil_logging._json_sink_format, level="DEBUG")
    yield stream
    setup_logging(Settings(env="test", log_level="WARNING"))


class TestJsonLines:
    def test_line_has_request_id_and_no_secret(self, captured):
        token = request_id_var.set("req-123")
        try:
            logger.bind(password="pw-value-1", user="u1").info("token=abc123def456 issued")
        finally:
            request_id_var.reset(token)
        line = json.loads(captured.getvalue().strip().splitlines()[-1])
        assert line["request_id"] == "req-123"
        assert line["password"] == REDACTED
        assert line["user"] == "u1"
        assert "abc123def456" not in line["message"]
        assert line["level"] == "INFO"

    def test_stdlib_logs_are_routed_through_loguru(self, captured):
        logging.getLogger("some.library").warning("hello from stdlib secret=xyz987654")
        line = json.loads(captured.getvalue().strip().splitlines()[-1])
        assert line["message"].startswith("hello from stdlib")
        assert "xyz987654" not in line["message"]

    def test_exception_is_logged_without_local_values(self, captured):
        def fail(password: str) -> None:
            raise ValueError("bad input")

        value = "-".join(["local", "secret", "value"])
        try:
            fail(value)
        except ValueError:
            logger.exception("it failed")
        line = json.loads(captured.getvalue().strip().splitlines()[-1])
        assert line["exception"]["type"] == "ValueError"
        assert "local-secret-value" not in captured.getvalue()
