from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)


class Contract(BaseModel):
    """Base of every topic payload: unknown fields are refused, naming the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Changes(Contract):
    """Fields to change: the ones given are set (null clears one), the ones left out are kept.
    On the wire only the given ones travel, so that one left out stays left out instead of
    becoming a null (a clear)."""

    @model_serializer(mode="wrap")
    def _only_given(self, serialize: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = serialize(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


class FieldError(Contract):
    field: str
    message: str


NUL_MESSAGE = "must not contain NUL characters"
SURROGATE_MESSAGE = "must be valid Unicode text (it has a lone surrogate)"


def clean_text(value: str) -> str:
    """Text PostgreSQL and Kafka keys can hold: no NUL, no lone surrogates (JSON allows both
    as escapes; the database refuses the first and UTF-8 cannot encode the second)."""
    if value.isascii():
        if "\x00" in value:
            raise ValueError(NUL_MESSAGE)
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(SURROGATE_MESSAGE) from None
    return value


CleanStr = Annotated[str, AfterValidator(clean_text)]

# Trimmed, and free of what no store can keep (NUL, lone surrogates): refused naming the field.
Text = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(clean_text)]


def blank_to_none(value: object) -> object:
    """A blank string counts as absent (ingest) or as cleared (commands)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value
