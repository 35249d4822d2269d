"""Runs a command and prints `WALL_S CPU_S MAXRSS_KB` of it (its children included) on stderr's
last line, for `cargo xtask bench`: Python's resource module, so no GNU time is needed.

    python3 benches/measure.py CMD [ARGS...]
"""
import resource
import subprocess
import sys
import time

started = time.monotonic()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
wall = time.monotonic() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.3f} {usage.ru_utime + usage.ru_stime:.3f} {usage.ru_maxrss}")
sys.exit(code)
