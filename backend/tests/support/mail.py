"""Reading what the app "sent": the test run's outbox folder of `.eml` files.

The outbox is shared by the whole run and never emptied, so a test that checks for a new
message should count before and after, or use an address no other test uses.
"""

from __future__ import annotations

import email
from email.message import Message

from tests.conftest import TEST_TMP


def outbox_messages(to: str) -> list[Message]:
    """Every message sent to `to` during this run, oldest first."""
    found = []
    for path in sorted((TEST_TMP / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes())
        if msg["To"] == to:
            found.append(msg)
    return found


def link_token(msg: Message) -> str:
    """The `token=` value of the link in a message's text part."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            text = bytes(part.get_payload(decode=True)).decode()
            return text.split("token=", 1)[1].split()[0].strip()
    raise AssertionError("no link in message")
