"""Juhe's 手机身份证二要素核验 API (telecom2Cucc) on the juhe-2fa Rust core.

Does this ID card number own this China Unicom mobile number?

>>> import juhe_2fa
>>> client = juhe_2fa.Client()            # the key from JUHE_KEY
>>> v = client.verify("110105199003071239", "13012345678")
>>> v.verdict, v.order_id                 # ('match', 'JH…'): keep the order id

``Client`` blocks (and releases the GIL: share one client across threads); ``AsyncClient``
is the same for asyncio. Failures raise a ``JuheError`` subclass, one per class of outcome
(``RejectedError``, ``ApiError``, ``UnbilledError``, ``AmbiguousError``, ``ConfigError``,
``CancelledError``, ``BudgetError``). ``IdCard`` and ``Mobile`` validate locally;
``encrypt`` shows what a mode would send. ``juhe_2fa.testing.Sandbox`` is the vendor's API
in-process, for offline tests. Nothing printed holds the API key or an unmasked number.
"""

from ._core import (
    AmbiguousError,
    ApiError,
    AsyncClient,
    BudgetError,
    CancelledError,
    Client,
    ConfigError,
    IdCard,
    JuheError,
    Mobile,
    RejectedError,
    UnbilledError,
    Verification,
    __version__,
    encrypt,
)

__all__ = [
    "AmbiguousError",
    "ApiError",
    "AsyncClient",
    "BudgetError",
    "CancelledError",
    "Client",
    "ConfigError",
    "IdCard",
    "JuheError",
    "Mobile",
    "RejectedError",
    "UnbilledError",
    "Verification",
    "__version__",
    "encrypt",
]
