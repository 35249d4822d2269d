"""juhe_2fa.testing.Sandbox: context manager, pytest fixture, stats, reset, faults, fixtures."""

import pytest

import juhe_2fa
from juhe_2fa.testing import Sandbox


def test_the_fixture_is_a_running_sandbox_with_the_demo_account(juhe_sandbox):
    assert juhe_sandbox.url.startswith("http://127.0.0.1:")
    assert juhe_sandbox.api_key == "sandbox-demo-key"
    assert juhe_sandbox.stats()["requests"] == 0
    c = juhe_2fa.Client(juhe_sandbox.api_key, base_url=juhe_sandbox.url)
    assert c.verify(*Sandbox.MATCH).is_match


def test_stats_pair_counts_and_reset():
    with Sandbox() as sb:
        c = juhe_2fa.Client(sb.api_key, base_url=sb.url)
        c.verify(*Sandbox.MATCH)
        c.verify(*Sandbox.MATCH)
        with pytest.raises(juhe_2fa.ApiError):
            c.verify(*Sandbox.NO_RECORD)
        stats = sb.stats()
        assert stats["requests"] == 3 and stats["billed"] == 2
        assert stats["by_error_code"] == {0: 2, 232904: 1}
        assert stats["by_path"] == {"/telecom2Cucc/query": 3}
        assert stats["pairs_billed_more_than_once"] == 1
        assert sb.pair_count(*Sandbox.MATCH) == {"requests": 2, "billed": 2}
        recent = sb.recent_requests()
        assert [r["error_code"] for r in recent] == [0, 0, 232904]
        assert recent[0]["idcard"] == "110105********1239"
        sb.reset()
        assert sb.stats()["requests"] == 0 and sb.recent_requests() == []
        assert sb.pair_count(*Sandbox.MATCH) == {"requests": 0, "billed": 0}


def test_faults_fixtures_key_and_default_verdict():
    card = next(
        f"11010519850101123{d}" for d in "0123456789X" if _valid(f"11010519850101123{d}")
    )
    other = next(
        f"11010519900101123{d}" for d in "0123456789X" if _valid(f"11010519900101123{d}")
    )
    wrong = next(f"11010519850101123{d}" for d in "0123456789" if f"11010519850101123{d}" != card)
    with pytest.raises(ValueError):
        Sandbox(fixtures=[(wrong, "13012345670", "match")])  # a wrong check digit
    with Sandbox(
        api_key="test-key",
        fixtures=[(card, "13012345670", "mismatch")],
        default_verdict="match",
        faults=["http500", {"error_code": 232905}],
    ) as sb:
        assert sb.api_key == "test-key"
        c = juhe_2fa.Client("test-key", base_url=sb.url, retries=2)
        v = c.verify(card, "13012345670")
        assert (v.verdict, v.attempts) == ("mismatch", 3)
        assert sb.stats()["faults"] == 2
        assert c.verify(other, "13012345671").verdict == "match"
        with pytest.raises(juhe_2fa.ApiError):
            juhe_2fa.Client("sandbox-demo-key", base_url=sb.url).verify(*Sandbox.MATCH)
    for bad in ({"faults": ["explode"]}, {"default_verdict": "maybe"}):
        with pytest.raises(ValueError):
            Sandbox(**bad)


def test_a_closed_sandbox_refuses_connections():
    sb = Sandbox()
    url = sb.url
    sb.close()
    sb.close()  # idempotent
    with pytest.raises(RuntimeError):
        sb.stats()
    with pytest.raises(juhe_2fa.UnbilledError):
        juhe_2fa.Client("k", base_url=url, retries=0).verify(*Sandbox.MATCH)


def _valid(number):
    try:
        juhe_2fa.IdCard(number)
        return True
    except juhe_2fa.RejectedError:
        return False
