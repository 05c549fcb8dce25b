"""Send failures, by whether trying again can help."""


class RetryableSendError(Exception):
    """429, 5xx, a timeout or a lost connection: try again (after retry_after, if given)."""

    def __init__(self, provider: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"{provider}: {reason}")
        self.retry_after = retry_after


class PermanentSendError(Exception):
    """Any other 4xx: the provider refused this message; its error is kept."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")


class ThreadNotFoundError(LookupError):
    def __init__(self, thread_id: object) -> None:
        super().__init__(f"no thread {thread_id} in this store")
