"""pydantic models of the topic payloads: the contracts. JSON Schema and AsyncAPI are generated
from them (`schemas/generated/`) and a test keeps the checked-in copies current."""
