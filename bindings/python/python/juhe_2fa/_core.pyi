"""Type stubs for the native module ``juhe_2fa._core`` (re-exported by ``juhe_2fa``)."""

import datetime
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Optional, Union, final

__version__: str
__all__ = [
    "__version__",
    "Client",
    "AsyncClient",
    "Verification",
    "IdCard",
    "Mobile",
    "encrypt",
    "Sandbox",
    "JuheError",
    "RejectedError",
    "ApiError",
    "UnbilledError",
    "AmbiguousError",
    "ConfigError",
    "CancelledError",
    "BudgetError",
]

_Mode = Literal["plain", "aes", "rsa"]
_KeySource = Union[str, os.PathLike[str]]
_Number = Union[str, "IdCard", "Mobile"]
_OnSend = Callable[[int], Any]

@final
class Verification:
    """A successful check. ``idcard`` and ``mobile`` are masked."""

    @property
    def verdict(self) -> Literal["match", "mismatch"]: ...
    @property
    def res(self) -> Literal[1, 2]: ...
    @property
    def order_id(self) -> str: ...
    @property
    def billed(self) -> bool: ...
    @property
    def from_cache(self) -> bool: ...
    @property
    def attempts(self) -> int: ...
    @property
    def latency(self) -> float:
        """Seconds the call took."""
    @property
    def mode(self) -> _Mode: ...
    @property
    def carrier(self) -> str: ...
    @property
    def idcard(self) -> str: ...
    @property
    def mobile(self) -> str: ...
    @property
    def is_match(self) -> bool: ...
    def __bool__(self) -> bool: ...

@final
class Client:
    """The blocking client; ``verify`` releases the GIL. Share one across threads."""

    def __new__(
        cls,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        mode: _Mode = "plain",
        openid: Optional[str] = None,
        aes_key: Optional[str] = None,
        rsa_public_key: Optional[_KeySource] = None,
        timeout: Optional[float] = None,
        deadline: Optional[float] = None,
        retries: Optional[int] = None,
        qps: Optional[float] = None,
        redis: Optional[str] = None,
        ledger: Optional[_KeySource] = None,
        caller: Optional[str] = None,
        purpose: Optional[str] = None,
        budget: Union[str, Sequence[str], None] = None,
    ) -> "Client": ...
    def verify(self, idcard: _Number, mobile: _Number, *, on_send: Optional[_OnSend] = None) -> Verification: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Client": ...
    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None: ...

@final
class AsyncClient:
    """The asyncio client: ``await client.verify(idcard, mobile)``."""

    def __new__(
        cls,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        mode: _Mode = "plain",
        openid: Optional[str] = None,
        aes_key: Optional[str] = None,
        rsa_public_key: Optional[_KeySource] = None,
        timeout: Optional[float] = None,
        deadline: Optional[float] = None,
        retries: Optional[int] = None,
        qps: Optional[float] = None,
        redis: Optional[str] = None,
        ledger: Optional[_KeySource] = None,
        caller: Optional[str] = None,
        purpose: Optional[str] = None,
        budget: Union[str, Sequence[str], None] = None,
    ) -> "AsyncClient": ...
    def verify(
        self, idcard: _Number, mobile: _Number, *, on_send: Optional[_OnSend] = None
    ) -> Awaitable[Verification]: ...
    def close(self) -> Awaitable[None]: ...
    def __aenter__(self) -> Awaitable["AsyncClient"]: ...
    def __aexit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> Awaitable[None]: ...

@final
class IdCard:
    """A validated ID card number; ``repr``/``str`` are masked."""

    def __new__(cls, number: str) -> "IdCard": ...
    @property
    def number(self) -> str: ...
    @property
    def masked(self) -> str: ...
    @property
    def birth_date(self) -> datetime.date: ...
    @property
    def gender(self) -> Literal["male", "female"]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Mobile:
    """A validated mobile number; ``repr``/``str`` are masked."""

    def __new__(cls, number: str) -> "Mobile": ...
    @property
    def number(self) -> str: ...
    @property
    def masked(self) -> str: ...
    @property
    def carrier(self) -> Literal["unicom", "mobile", "telecom", "broadnet", "unknown"]: ...
    @property
    def is_unicom(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def encrypt(
    value: _Number,
    *,
    mode: _Mode = "aes",
    openid: Optional[str] = None,
    aes_key: Optional[str] = None,
    rsa_public_key: Optional[str] = None,
) -> str: ...

class JuheError(Exception):
    class_: Literal["rejected", "api", "unbilled", "ambiguous", "config", "cancelled", "budget"]
    code: Optional[int]
    kind: str
    public_message: str
    message_zh: str
    hint: Optional[str]
    field: Optional[Literal["idcard", "mobile"]]
    retryable: bool
    nothing_sent: bool

class RejectedError(JuheError): ...
class ApiError(JuheError): ...
class UnbilledError(JuheError): ...
class AmbiguousError(JuheError): ...
class ConfigError(JuheError): ...
class CancelledError(JuheError): ...
class BudgetError(JuheError): ...

_Fault = Union[str, Mapping[str, int]]
_Fixture = Union[tuple[str, str, Union[str, int]], Mapping[str, Any]]

@final
class Sandbox:
    """The vendor's API in-process on 127.0.0.1 (juhe_2fa.testing)."""

    MATCH: tuple[str, str]
    MISMATCH: tuple[str, str]
    NO_RECORD: tuple[str, str]
    NETWORK_ERROR: tuple[str, str]
    NON_UNICOM: tuple[str, str]
    def __new__(
        cls,
        *,
        api_key: Optional[str] = None,
        fixtures: Optional[Iterable[_Fixture]] = None,
        default_verdict: Optional[Literal["no-record", "match", "mismatch", "hash"]] = None,
        faults: Optional[Sequence[_Fault]] = None,
        qps_limit: Optional[int] = None,
    ) -> "Sandbox": ...
    @property
    def url(self) -> str: ...
    @property
    def api_key(self) -> str: ...
    @property
    def openid(self) -> str: ...
    @property
    def rsa_public_key(self) -> str: ...
    def stats(self) -> dict[str, Any]: ...
    def pair_count(self, idcard: _Number, mobile: _Number) -> dict[str, int]: ...
    def recent_requests(self) -> list[dict[str, Any]]: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Sandbox": ...
    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None: ...
