from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Base of every topic payload: unknown fields are refused, naming the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldError(Contract):
    field: str
    message: str
