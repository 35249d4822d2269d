"""The `juhe_2fa` Python package doing the peer's job (benches/python_client.py): the same
sandbox, pairs and modes, through the Rust core.

    python benches/python_package.py BASE_URL plain|aes|rsa [seconds] [concurrency] [sync|async]

`sync`: one shared `juhe_2fa.Client`, CONCURRENCY threads (the GIL is released during a
check). `async`: one `juhe_2fa.AsyncClient`, CONCURRENCY checks in flight on one event loop.
`cargo xtask bench` runs it in the venv of xtask/src/venv.rs with the release wheel installed.
It prints one line: `python-package MODE CHECKS_PER_S CPU_US_PER_CHECK P50_MS P99_MS`; CPU is
the whole process's (every thread, the tokio runtime's included), as for the peer.
"""
import asyncio
import os
import sys
import threading
import time

import juhe_2fa

DEMO = os.path.join(os.path.dirname(__file__), "..", "crates", "juhe-crypto", "demo")
KEY = "sandbox-demo-key"
OPENID = "JHdemo0penid5andb0x0000000000001"
IDCARD = "110105199003071239"


def options(base, mode):
    extra = {}
    if mode == "aes":
        extra = {"openid": OPENID}
    elif mode == "rsa":
        extra = {"rsa_public_key": os.path.join(DEMO, "rsa_public.pem")}
    # No retries: the peer does not retry either.
    return dict(base_url=base, mode=mode, retries=0, **extra)


def run_sync(base, mode, seconds, concurrency):
    client = juhe_2fa.Client(KEY, **options(base, mode))
    stop = time.monotonic() + seconds
    done = [0] * concurrency
    latencies = [[] for _ in range(concurrency)]

    def worker(t):
        i = t * 1_000_000
        while time.monotonic() < stop:
            started = time.monotonic()
            try:
                client.verify(IDCARD, "130%08d" % (i % 100_000_000))
                done[t] += 1
                latencies[t].append(time.monotonic() - started)
            except juhe_2fa.JuheError:
                pass
            i += 1

    ws = [threading.Thread(target=worker, args=(t,)) for t in range(concurrency)]
    [w.start() for w in ws]
    [w.join() for w in ws]
    return sum(done), [x for l in latencies for x in l]


def run_async(base, mode, seconds, concurrency):
    async def main():
        client = juhe_2fa.AsyncClient(KEY, **options(base, mode))
        stop = time.monotonic() + seconds
        done, latencies = [0], []

        async def worker(t):
            i = t * 1_000_000
            while time.monotonic() < stop:
                started = time.monotonic()
                try:
                    await client.verify(IDCARD, "130%08d" % (i % 100_000_000))
                    done[0] += 1
                    latencies.append(time.monotonic() - started)
                except juhe_2fa.JuheError:
                    pass
                i += 1

        await asyncio.gather(*(worker(t) for t in range(concurrency)))
        return done[0], latencies

    return asyncio.run(main())


def main():
    base, mode = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5
    concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    style = sys.argv[5] if len(sys.argv) > 5 else "sync"
    run = run_async if style == "async" else run_sync
    cpu0, t0 = time.process_time(), time.monotonic()
    total, lat = run(base, mode, seconds, concurrency)
    elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
    lat = sorted(lat) or [0.0]
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, len(lat) * 99 // 100)]
    print(f"python-package {mode} {total / elapsed:.1f} {cpu * 1e6 / max(total, 1):.1f} {p50 * 1e3:.2f} {p99 * 1e3:.2f}")


if __name__ == "__main__":
    main()
