"""The notes log (seed 002): timestamped notes on a client, newest first, each with its
author; apart from the client's single `notes` field."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from schemas.common import Contract, Text

MAX_NOTE = 5000
NoteText = Annotated[Text, StringConstraints(min_length=1, max_length=MAX_NOTE)]


class NoteAuthor(Contract):
    type: str
    id: UUID | None
    name: str | None


class NoteView(Contract):
    id: UUID
    text: str
    author: NoteAuthor
    created_at: datetime
    updated_at: datetime


class NoteList(Contract):
    notes: list[NoteView] = Field(description="newest first")


class NoteBody(Contract):
    """POST and PATCH /v1/clients/{id}/notes[/{note_id}]."""

    text: NoteText
    command_id: str | None = Field(default=None, min_length=1, max_length=128)
