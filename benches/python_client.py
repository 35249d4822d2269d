"""The hand-rolled alternative, for comparison: Python `requests` + `cryptography` doing the
same job as juhe-2fa's clients (form POST; the vendor's AES scheme or RSA-OAEP-SHA1 fields;
JSON parse).

    python3 benches/python_client.py BASE_URL plain|aes|rsa [seconds] [threads]

`cargo xtask bench` runs it (in a venv it makes) against the same sandbox as the Rust clients.
It prints one line: `python MODE CHECKS_PER_S CPU_US_PER_CHECK P50_MS P99_MS`.
"""
import base64
import hashlib
import os
import sys
import threading
import time

import requests
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

DEMO = os.path.join(os.path.dirname(__file__), "..", "crates", "juhe-crypto", "demo")
KEY = "sandbox-demo-key"
# The sandbox's demo OpenID (juhe_sandbox::demo::OPENID).
OPENID = "JHdemo0penid5andb0x0000000000001"
IDCARD = "110105199003071239"


def encryptor(mode):
    if mode == "plain":
        return lambda v: v
    if mode == "aes":
        # The vendor's scheme: key = first 16 hex characters of MD5(OpenID), AES-128-ECB.
        key = hashlib.md5(OPENID.encode()).hexdigest()[:16].encode()

        def aes(v):
            p = padding.PKCS7(128).padder()
            data = p.update(v.encode()) + p.finalize()
            e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
            return base64.b64encode(e.update(data) + e.finalize()).decode()

        return aes
    pub = serialization.load_pem_public_key(open(os.path.join(DEMO, "rsa_public.pem"), "rb").read())
    oaep = asym.OAEP(mgf=asym.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    return lambda v: base64.b64encode(pub.encrypt(v.encode(), oaep)).decode()


def main():
    base, mode = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    path = {"plain": "/telecom2Cucc/query", "aes": "/telecom2Cucc/queryEncry", "rsa": "/telecom2Cucc/queryRV2"}[mode]
    enc = encryptor(mode)
    stop = time.monotonic() + seconds
    done = [0] * threads
    latencies = [[] for _ in range(threads)]

    def worker(t):
        s = requests.Session()
        i = t * 1_000_000
        while time.monotonic() < stop:
            mobile = "130%08d" % (i % 100_000_000)
            started = time.monotonic()
            r = s.post(base + path, data={"key": KEY, "idcard": enc(IDCARD), "mobile": enc(mobile)}, timeout=10)
            if r.json().get("error_code") == 0:
                done[t] += 1
                latencies[t].append(time.monotonic() - started)
            i += 1

    cpu0, t0 = time.process_time(), time.monotonic()
    ws = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    [w.start() for w in ws]
    [w.join() for w in ws]
    elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
    total = sum(done)
    lat = sorted(x for l in latencies for x in l) or [0.0]
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, len(lat) * 99 // 100)]
    print(f"python {mode} {total / elapsed:.1f} {cpu * 1e6 / max(total, 1):.1f} {p50 * 1e3:.2f} {p99 * 1e3:.2f}")


if __name__ == "__main__":
    main()
