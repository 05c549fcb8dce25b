from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Contract(BaseModel):
    """Base of every topic payload: unknown fields are refused, naming the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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
