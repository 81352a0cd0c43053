from __future__ import annotations

from pydantic import BaseModel, Field


class FileRead(BaseModel):
    key: str = Field(description="Refer to the file by this key (e.g. in a lesson).")
    content_type: str
    size: int
    url: str = Field(description="A short-lived download link.")
