"""Offline testing: the vendor's API in-process (``Sandbox``) and a pytest fixture.

>>> from juhe_2fa.testing import Sandbox
>>> with Sandbox() as sandbox:
...     client = juhe_2fa.Client(sandbox.api_key, base_url=sandbox.url)
...     client.verify(*Sandbox.MATCH).verdict
'match'

With pytest, the installed package registers the fixture ``juhe_sandbox`` (a fresh
``Sandbox`` per test, closed after it)::

    def test_signup(juhe_sandbox):
        client = juhe_2fa.Client(juhe_sandbox.api_key, base_url=juhe_sandbox.url)
        ...
        assert juhe_sandbox.stats()["billed"] == 1

Where plugins are not auto-loaded (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), add
``pytest_plugins = ["juhe_2fa.testing"]`` to your ``conftest.py``.
"""

from typing import Iterator

from ._core import Sandbox

__all__ = ["Sandbox", "juhe_sandbox"]

try:
    import pytest
except ImportError:  # pytest is only needed for the fixture
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def juhe_sandbox() -> Iterator[Sandbox]:
        """A fresh sandbox (demo key, keys and fixtures) for one test, closed after it."""
        with Sandbox() as sandbox:
            yield sandbox

else:

    def juhe_sandbox() -> Iterator[Sandbox]:  # type: ignore[misc]
        """A fresh sandbox as a generator (pytest is not installed)."""
        with Sandbox() as sandbox:
            yield sandbox
