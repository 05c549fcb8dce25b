from pathlib import Path
from uuid import UUID


class UnreadableFileError(ValueError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path


class MissingColumnsError(ValueError):
    """The header cannot satisfy the required fields; nothing was written."""

    def __init__(self, path: Path, missing: list[str]) -> None:
        super().__init__(f"{path}: the header has no {' and no '.join(missing)}; nothing imported")
        self.path = path
        self.missing = missing


class JobNotFoundError(LookupError):
    def __init__(self, job_id: UUID) -> None:
        super().__init__(f"no import job {job_id}")
        self.job_id = job_id
