"""AsyncClient: asyncio on the module's tokio runtime."""

import asyncio

import pytest

import juhe_2fa
from juhe_2fa.testing import Sandbox


def client(sandbox, **options):
    return juhe_2fa.AsyncClient(sandbox.api_key, base_url=sandbox.url, **options)


@pytest.mark.asyncio
async def test_await_verify_in_every_mode(juhe_sandbox):
    plain = await client(juhe_sandbox).verify(*Sandbox.MATCH)
    aes = await client(juhe_sandbox, mode="aes", openid=juhe_sandbox.openid).verify(*Sandbox.MATCH)
    rsa = await client(
        juhe_sandbox, mode="rsa", rsa_public_key=juhe_sandbox.rsa_public_key
    ).verify(*Sandbox.MISMATCH)
    assert [(v.verdict, v.mode) for v in (plain, aes, rsa)] == [
        ("match", "plain"),
        ("match", "aes"),
        ("mismatch", "rsa"),
    ]
    assert juhe_sandbox.stats()["billed"] == 3


@pytest.mark.asyncio
async def test_sixteen_in_flight_with_gather():
    with Sandbox(faults=[{"delay_ms": 200}] * 16) as sandbox:
        c = client(sandbox)
        results = await asyncio.gather(*(c.verify(*Sandbox.MATCH) for _ in range(16)))
        assert [r.verdict for r in results] == ["match"] * 16
        assert len({r.order_id for r in results}) == 16
        assert sandbox.stats()["billed"] == 16


@pytest.mark.asyncio
async def test_the_event_loop_runs_while_a_check_waits():
    with Sandbox(faults=[{"delay_ms": 1000}]) as sandbox:
        c = client(sandbox)
        ticks = 0
        check = asyncio.ensure_future(c.verify(*Sandbox.MATCH))
        while not check.done():
            ticks += 1
            await asyncio.sleep(0.01)
        assert (await check).is_match
        assert ticks > 10, "the loop was blocked while the check waited"


@pytest.mark.asyncio
async def test_errors_raise_the_same_exceptions(juhe_sandbox):
    c = client(juhe_sandbox)
    with pytest.raises(juhe_2fa.ApiError) as caught:
        await c.verify(*Sandbox.NO_RECORD)
    assert caught.value.code == 232904
    with pytest.raises(juhe_2fa.RejectedError) as caught:
        await c.verify("110105199003071239", "12012345678")
    assert caught.value.field == "mobile"
    with pytest.raises(juhe_2fa.CancelledError):
        await c.verify(*Sandbox.MATCH, on_send=lambda attempt: False)
    with pytest.raises(juhe_2fa.ConfigError):
        juhe_2fa.AsyncClient("k", base_url="ftp://example")


@pytest.mark.asyncio
async def test_async_context_manager(juhe_sandbox):
    async with client(juhe_sandbox) as c:
        assert (await c.verify(*Sandbox.MATCH)).is_match
    assert "AsyncClient(mode='plain'" in repr(c)


def test_the_interpreter_exits_cleanly_after_async_checks(juhe_sandbox):
    """Results are delivered from the runtime's threads; none may be inside Python when the
    interpreter finalizes (that crashed at exit, one run in a few, before the exit hook)."""
    import subprocess
    import sys

    script = (
        "import asyncio, juhe_2fa\n"
        "async def main():\n"
        f"    c = juhe_2fa.AsyncClient({juhe_sandbox.api_key!r}, base_url={juhe_sandbox.url!r})\n"
        "    await asyncio.gather(*(c.verify(*juhe_2fa.testing.Sandbox.MATCH) for _ in range(50)))\n"
        "import juhe_2fa.testing\n"
        "asyncio.run(main())\n"
    )
    codes = [subprocess.run([sys.executable, "-c", script]).returncode for _ in range(10)]
    assert codes == [0] * 10
    assert juhe_sandbox.stats()["billed"] == 500


@pytest.mark.asyncio
async def test_cancelling_the_task_leaves_the_client_usable():
    with Sandbox(faults=[{"delay_ms": 1000}]) as sandbox:
        c = client(sandbox)
        slow = asyncio.ensure_future(c.verify(*Sandbox.MATCH))
        await asyncio.sleep(0.1)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert (await c.verify(*Sandbox.MISMATCH)).verdict == "mismatch"


def test_a_new_event_loop_each_time():
    async def check(c):
        return await c.verify(*Sandbox.MATCH)

    with Sandbox() as sandbox:
        c = client(sandbox)
        for _ in range(3):
            # Not asyncio.run: it would reset the policy's loop under pytest-asyncio.
            event_loop = asyncio.new_event_loop()
            try:
                assert event_loop.run_until_complete(check(c)).is_match
            finally:
                event_loop.close()
    with pytest.raises(RuntimeError):
        c.verify(*Sandbox.MATCH)  # outside a running loop


FORK_SCRIPT = """
import asyncio, os, juhe_2fa
from juhe_2fa.testing import Sandbox

async def check(sandbox):
    c = juhe_2fa.AsyncClient(sandbox.api_key, base_url=sandbox.url, timeout=5)
    return (await c.verify(*Sandbox.MATCH)).verdict

parent = Sandbox()
assert asyncio.run(check(parent)) == "match"  # the runtime's threads are running
pid = os.fork()
if pid == 0:
    try:
        with Sandbox() as own:
            verdicts = [asyncio.run(check(own))]
            verdicts.append(juhe_2fa.Client(own.api_key, base_url=own.url).verify(*Sandbox.MATCH).verdict)
        verdicts.append(asyncio.run(check(parent)))
        parent.close()  # the parent's server: not the child's to wait for
        print("child", *verdicts, flush=True)
        os._exit(0)
    except BaseException as e:
        print("child failed", type(e).__name__, flush=True)
        os._exit(1)
_, status = os.waitpid(pid, 0)
assert asyncio.run(check(parent)) == "match"
parent.close()
print("parent", status, flush=True)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
def test_a_forked_child_runs_async_checks_and_sandboxes():
    """The parent's tokio threads do not exist in a child: the child gets its own runtime
    (before, its awaits and its sandbox waited for ever)."""
    import subprocess
    import sys

    # Python 3.12+ warns about fork() in a process with threads: that is the point here.
    run = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", FORK_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["child match match match", "parent 0"], run.stdout


@pytest.mark.asyncio
async def test_an_on_send_hook_may_make_and_close_a_sandbox(juhe_sandbox):
    """The async client's hook runs on a runtime thread, where blocking on the runtime
    panicked ("Cannot start a runtime from within a runtime")."""
    made = []

    def hook(attempt):
        with Sandbox() as inner:
            made.append(inner.url)

    v = await client(juhe_sandbox).verify(*Sandbox.MATCH, on_send=hook)
    assert v.is_match and len(made) == 1


@pytest.mark.asyncio
async def test_a_coroutine_function_as_on_send_is_a_type_error(juhe_sandbox):
    """Its coroutine was never awaited and, being truthy, let the request leave."""

    async def hook(attempt):
        return False

    with pytest.raises(TypeError):
        await client(juhe_sandbox).verify(*Sandbox.MATCH, on_send=hook)
    with pytest.raises(TypeError):
        juhe_2fa.Client(juhe_sandbox.api_key, base_url=juhe_sandbox.url).verify(
            *Sandbox.MATCH, on_send=hook
        )
    assert juhe_sandbox.stats()["requests"] == 0
