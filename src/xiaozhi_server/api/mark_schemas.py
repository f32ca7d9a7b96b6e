"""Requests and answers of marks (stars, notes, tags) and share links.

Kept beside api/schemas.py (the read API's shapes) and built the same way: each field
typed and bounded, so the OpenAPI document says exactly what is accepted.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from xiaozhi_server.api.contract import Timestamp
from xiaozhi_server.store.tables import NOTE_LEN, TAG_LEN

MAX_TAGS = 20
DEFAULT_SHARE_DAYS = 7
MAX_SHARE_DAYS = 90
# Spaces as str.isspace() knows them; a tag neither starts nor ends with one, and holds no
# comma (tags are listed comma-separated in CSV exports) and no control character.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_NOT_IN_TAG = r",\x00-\x1f\x7f-\x9f"
TAG_PATTERN = rf"^[^{_NOT_IN_TAG}{_SPACE}](?:[^{_NOT_IN_TAG}]*[^{_NOT_IN_TAG}{_SPACE}])?$"
NOTE_PATTERN = r"^[^\u0000]*$"


def _encodable(value: str) -> bool:
    """False for a lone surrogate (JSON can carry one; no database can store it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _tag(value: str) -> str:
    if not 1 <= len(value) <= TAG_LEN or not re.fullmatch(TAG_PATTERN, value):
        raise PydanticCustomError(
            "tag",
            f"a tag is 1 to {TAG_LEN} characters, without commas, control characters "
            "or spaces at either end",
        )
    if not _encodable(value):
        raise PydanticCustomError("tag", "must be valid Unicode text")
    return value


def _note(value: str) -> str:
    if not re.fullmatch(NOTE_PATTERN, value):
        raise PydanticCustomError("note", "must not contain NUL characters")
    if not _encodable(value):
        raise PydanticCustomError("note", "must be valid Unicode text")
    return value


Tag = Annotated[
    str,
    AfterValidator(_tag),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": TAG_LEN, "pattern": TAG_PATTERN}
    ),
]
# The marks filters of the routes that list messages (search, export), as one query parameter each.
StarredFilter = Annotated[bool | None, Query(description="only in starred (unstarred) sessions")]
TagFilter = Annotated[Tag | None, Query(description="the message or its session tagged so")]
Note = Annotated[
    str,
    Field(max_length=NOTE_LEN),
    AfterValidator(_note),
    WithJsonSchema({"type": "string", "maxLength": NOTE_LEN, "pattern": NOTE_PATTERN}),
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS, description=f"at most {MAX_TAGS}")]


class _Change(BaseModel):
    """Only the fields given change; at least one must be."""

    # Strict: 0 is not false, "7" is not 7 (the schema says boolean and integer).
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"minProperties": 1})

    note: Note | None = Field(None, description="the note; null or empty removes it")
    tags: Tags = Field(default_factory=list, description="the whole new set of tags")

    @model_validator(mode="after")
    def _something(self) -> _Change:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self


class MessageMarksChange(_Change):
    """A new note and/or tags for one message."""


class SessionMarksChange(_Change):
    """A star, a note and/or tags for a session."""

    starred: bool = Field(False, description="star (true) or unstar (false)")


class MessageMarks(BaseModel):
    """What the hub's users noted on one message."""

    message_id: int
    note: str | None
    tags: list[str]
    updated_at: Timestamp | None = Field(description="last change (null: never marked)")
    updated_by: str | None = Field(description="who made the last change")


class SessionMarks(BaseModel):
    """A session's star, note and tags, and its messages' notes and tags."""

    session_id: str
    starred: bool
    note: str | None
    tags: list[str]
    updated_at: Timestamp | None = Field(description="last change (null: never marked)")
    updated_by: str | None = Field(description="who made the last change")
    messages: list[MessageMarks] = Field(description="only the messages that carry marks")


class TagCount(BaseModel):
    """A tag and how many sessions carry it (on the session or one of its messages)."""

    tag: str
    sessions: int


class TagList(BaseModel):
    """Every tag in use, by name."""

    items: list[TagCount]


def _number(value: object) -> object:
    if isinstance(value, (str, bool)):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


class ShareRequest(BaseModel):
    """How long the link works."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # A JSON number with no fraction (7 or 7.0, as JSON Schema's integer), never text.
    expires_in_days: Annotated[int, BeforeValidator(_number)] = Field(
        DEFAULT_SHARE_DAYS,
        ge=1,
        le=MAX_SHARE_DAYS,
        strict=False,
        description="1 to 90 days (default 7)",
    )


class ShareCreated(BaseModel):
    """A new read-only link: ``url`` is shown this once (only its hash is stored)."""

    id: str = Field(description="for DELETE /api/v2/shares/{id}; not the link's secret")
    url: str = Field(description="root-relative: /share/<secret>")
    expires_at: Timestamp
    session_id: str


class Share(BaseModel):
    """A share link (its secret is not kept, so not shown)."""

    id: str
    session_id: str
    title: str | None
    device: str | None
    created_at: Timestamp
    created_by: str
    expires_at: Timestamp
    expired: bool


class ShareList(BaseModel):
    """Every share link, newest first (expired ones too, until revoked)."""

    items: list[Share]


class RevokedShare(BaseModel):
    """The link answers 404 from now on."""

    revoked: str
