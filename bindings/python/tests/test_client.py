"""The blocking client against the in-process sandbox: verdicts, modes, options, threads."""

import threading

import pytest

import juhe_2fa
from juhe_2fa.testing import Sandbox

MATCH, MISMATCH = Sandbox.MATCH, Sandbox.MISMATCH


def client(sandbox, **options):
    return juhe_2fa.Client(sandbox.api_key, base_url=sandbox.url, **options)


def test_match_and_mismatch_carry_the_verification_fields(juhe_sandbox):
    v = client(juhe_sandbox).verify(*MATCH)
    assert isinstance(v, juhe_2fa.Verification)
    assert (v.verdict, v.res, v.is_match, bool(v)) == ("match", 1, True, True)
    assert v.order_id.startswith("JH") and len(v.order_id) == 23
    assert (v.billed, v.from_cache, v.attempts, v.mode) == (True, False, 1, "plain")
    assert 0 < v.latency < 10
    assert (v.idcard, v.mobile, v.carrier) == ("110105********1239", "130****5678", "unicom")
    v2 = client(juhe_sandbox).verify(*MISMATCH)
    assert (v2.verdict, v2.res, bool(v2)) == ("mismatch", 2, False)
    assert v2.order_id != v.order_id
    assert juhe_sandbox.stats()["billed"] == 2


def test_numbers_may_be_idcard_and_mobile_objects(juhe_sandbox):
    v = client(juhe_sandbox).verify(juhe_2fa.IdCard(MATCH[0]), juhe_2fa.Mobile(MATCH[1]))
    assert v.verdict == "match"


def test_aes_with_the_demo_openid(juhe_sandbox):
    v = client(juhe_sandbox, mode="aes", openid=juhe_sandbox.openid).verify(*MATCH)
    assert (v.verdict, v.mode) == ("match", "aes")
    assert juhe_sandbox.stats()["by_path"] == {"/telecom2Cucc/queryEncry": 1}


def test_rsa_with_the_demo_public_key_as_text_and_as_a_file(juhe_sandbox, tmp_path):
    v = client(juhe_sandbox, mode="rsa", rsa_public_key=juhe_sandbox.rsa_public_key).verify(
        *MISMATCH
    )
    assert (v.verdict, v.mode) == ("mismatch", "rsa")
    key_file = tmp_path / "juhe_public_key.pem"
    key_file.write_text(juhe_sandbox.rsa_public_key)
    for key in (key_file, str(key_file)):
        assert client(juhe_sandbox, mode="rsa", rsa_public_key=key).verify(*MATCH).is_match
    assert juhe_sandbox.stats()["by_path"] == {"/telecom2Cucc/queryRV2": 3}


def test_a_wrong_openid_is_reported_as_key_material():
    with Sandbox() as sandbox:
        c = client(sandbox, mode="aes", openid="JH0123456789abcdef0123456789abcd")
        with pytest.raises(juhe_2fa.ApiError) as caught:
            c.verify(*MATCH)
    assert caught.value.code in (232901, 232902)
    assert "OpenID" in caught.value.hint


def test_the_key_falls_back_to_juhe_key(juhe_sandbox, monkeypatch):
    monkeypatch.setenv("JUHE_KEY", juhe_sandbox.api_key)
    assert juhe_2fa.Client(base_url=juhe_sandbox.url).verify(*MATCH).is_match
    monkeypatch.delenv("JUHE_KEY")
    with pytest.raises(juhe_2fa.ConfigError):
        juhe_2fa.Client(base_url=juhe_sandbox.url)


def test_retries_resend_what_was_not_billed():
    with Sandbox(faults=["http500", "http500"]) as sandbox:
        v = client(sandbox, retries=2).verify(*MATCH)
        assert (v.verdict, v.attempts) == ("match", 3)
        assert sandbox.stats()["billed"] == 1
    with Sandbox(faults=["http500"]) as sandbox:
        with pytest.raises(juhe_2fa.UnbilledError):
            client(sandbox, retries=0).verify(*MATCH)
        assert sandbox.pair_count(*MATCH) == {"requests": 1, "billed": 0}


def test_timeout_after_sending_is_ambiguous_and_never_retried():
    with Sandbox(faults=[{"delay_ms": 1500}]) as sandbox:
        with pytest.raises(juhe_2fa.AmbiguousError) as caught:
            client(sandbox, timeout=0.2, retries=3).verify(*MATCH)
        assert caught.value.kind == "transport"
        # The sandbox finishes the abandoned request (and bills it), as the vendor would.
        for _ in range(500):
            if sandbox.pair_count(*MATCH)["requests"]:
                break
            threading.Event().wait(0.01)
        assert sandbox.pair_count(*MATCH) == {"requests": 1, "billed": 1}


def test_the_deadline_bounds_the_whole_check():
    with Sandbox(faults=["http500"] * 20) as sandbox:
        with pytest.raises(juhe_2fa.UnbilledError) as caught:
            client(sandbox, retries=10, deadline=0.05).verify(*MATCH)
        assert caught.value.kind == "deadline"
        assert sandbox.stats()["requests"] < 10


def test_a_budget_refuses_before_sending(juhe_sandbox):
    c = client(juhe_sandbox, budget="1/day")
    c.verify(*MATCH)
    with pytest.raises(juhe_2fa.BudgetError) as caught:
        c.verify(*MISMATCH)
    assert caught.value.nothing_sent
    assert juhe_sandbox.stats()["requests"] == 1
    assert client(juhe_sandbox, budget=["5/day", "10/month"]).verify(*MATCH).is_match


def test_on_send_can_cancel_before_anything_leaves(juhe_sandbox):
    seen = []
    c = client(juhe_sandbox)
    assert c.verify(*MATCH, on_send=seen.append).is_match
    assert seen == [1]
    with pytest.raises(juhe_2fa.CancelledError):
        c.verify(*MATCH, on_send=lambda attempt: False)

    def refuse(attempt):
        raise RuntimeError("not now")

    with pytest.raises(juhe_2fa.CancelledError) as caught:
        c.verify(*MATCH, on_send=refuse)
    assert "not now" in str(caught.value)
    assert juhe_sandbox.stats()["requests"] == 1


def test_a_qps_limit_and_its_bad_values(juhe_sandbox):
    assert client(juhe_sandbox, qps=50).verify(*MATCH).is_match
    for bad in (0, -1, float("nan")):
        with pytest.raises(juhe_2fa.ConfigError):
            client(juhe_sandbox, qps=bad)


def test_the_audit_ledger_records_checks(juhe_sandbox, tmp_path):
    ledger = tmp_path / "checks.ledger"
    c = client(juhe_sandbox, ledger=ledger, caller="pytest", purpose="testing")
    assert c.verify(*MATCH).is_match
    assert ledger.exists() and ledger.stat().st_size > 0
    assert MATCH[0].encode() not in ledger.read_bytes()
    with pytest.raises(juhe_2fa.ConfigError) as caught:
        client(juhe_sandbox, ledger=tmp_path / "no" / "such" / "dir" / "x.ledger")
    assert "ledger" in str(caught.value)


def test_sixteen_threads_share_one_client():
    with Sandbox(default_verdict="hash") as sandbox:
        c = client(sandbox)
        pairs = [(f"110105199001{1 + n % 28:02d}{n:03d}", f"130{n:08d}") for n in range(16)]
        pairs = [(idcard + check_digit(idcard), mobile) for idcard, mobile in pairs]
        results = [None] * 16

        def work(i):
            results[i] = c.verify(*pairs[i])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r is not None and r.verdict in ("match", "mismatch") for r in results)
        assert len({r.order_id for r in results}) == 16
        stats = sandbox.stats()
        assert (stats["billed"], stats["pairs_billed_more_than_once"]) == (16, 0)


def test_the_gil_is_released_while_a_check_waits():
    slow = ("11010519850101123" + check_digit("11010519850101123"), "13012345670")
    fault = {"delay_ms": 2000}
    fixtures = [{"idcard": slow[0], "mobile": slow[1], "outcome": "match", "fault": fault}]
    with Sandbox(fixtures=fixtures) as sandbox:
        c = client(sandbox)
        started = threading.Event()
        slow_result = []

        def slow_check():
            started.set()
            slow_result.append(c.verify(*slow))

        thread = threading.Thread(target=slow_check)
        thread.start()
        started.wait()
        # With the GIL held for the whole slow check, this line would run only after it.
        threading.Event().wait(0.2)
        assert c.verify(*MATCH).is_match
        assert thread.is_alive(), "the fast check finished while the slow one was in flight"
        thread.join()
        assert slow_result[0].is_match


def check_digit(first17):
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


def test_huge_timeouts_and_deadlines_mean_never(juhe_sandbox):
    """Past the clock's range (1e19 s) they panicked in the engine and the HTTP backend."""
    import asyncio

    for options in ({"timeout": 1e19}, {"deadline": 1e19}, {"timeout": 1e19, "deadline": 1e19}):
        assert client(juhe_sandbox, **options).verify(*MATCH).is_match
        async_client = juhe_2fa.AsyncClient(
            juhe_sandbox.api_key, base_url=juhe_sandbox.url, **options
        )

        async def check():
            return await asyncio.wait_for(async_client.verify(*MATCH), 30)

        # Not asyncio.run: it would reset the policy's loop under pytest-asyncio.
        event_loop = asyncio.new_event_loop()
        try:
            assert event_loop.run_until_complete(check()).is_match
        finally:
            event_loop.close()


def test_out_of_range_counts_are_config_and_value_errors(juhe_sandbox):
    for bad in (-1, 2**40, 2**70):
        with pytest.raises(juhe_2fa.ConfigError) as caught:
            client(juhe_sandbox, retries=bad)
        assert "retries" in str(caught.value)
        with pytest.raises(ValueError):
            Sandbox(qps_limit=bad)
    with pytest.raises(TypeError):
        client(juhe_sandbox, retries="2")
    assert client(juhe_sandbox, retries=0).verify(*MATCH).is_match


def test_ctrl_c_or_exit_in_on_send_is_not_turned_into_a_cancelled_check(juhe_sandbox):
    """A KeyboardInterrupt or SystemExit raised by the hook propagates (it became a
    CancelledError, an Exception, which a retry loop would swallow); nothing is sent."""
    c = client(juhe_sandbox)
    for escape in (KeyboardInterrupt, SystemExit):

        def hook(attempt, escape=escape):
            raise escape()

        with pytest.raises(escape):
            c.verify(*MATCH, on_send=hook)
    with pytest.raises(juhe_2fa.CancelledError):
        c.verify(*MATCH, on_send=lambda attempt: 1 / 0)
    assert juhe_sandbox.stats()["requests"] == 0
