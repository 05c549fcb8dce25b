"""What can go wrong with an endpoint, carrying what it is about."""

from uuid import UUID


class UnsafeURLError(ValueError):
    """A URL the SSRF guard refuses: not http(s), or resolving to a non-public address."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"refused {url!r}: {reason}")
        self.url = url
        self.reason = reason


class UnsafeAddressError(OSError):
    """Raised from inside the HTTP client's resolver: the name now resolves somewhere refused."""

    def __init__(self, host: str, addresses: list[str]) -> None:
        super().__init__(f"refused {host}: resolves to non-public address(es) "
                         f"{', '.join(addresses)}")


class EndpointNotFoundError(LookupError):
    def __init__(self, endpoint_id: UUID) -> None:
        super().__init__(f"no webhook endpoint {endpoint_id}")
        self.endpoint_id = endpoint_id


class DeliveryNotFoundError(LookupError):
    def __init__(self, delivery_id: int) -> None:
        super().__init__(f"no webhook delivery {delivery_id}")
        self.delivery_id = delivery_id
