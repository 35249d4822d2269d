"""docs/python.md's first example (the README's) runs as written, in a fresh interpreter."""

import pathlib
import re
import subprocess
import sys

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "python.md"


def test_the_quick_start_example_runs():
    text = DOC.read_text(encoding="utf-8")
    marker = text.index("<!-- the README's example; bindings/python/tests/test_docs.py runs it -->")
    example = re.search(r"```python\n(.*?)```", text[marker:], re.S).group(1)
    assert "Sandbox()" in example and "juhe_2fa.Client" in example
    run = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "verdict='match'" in run.stdout
    assert "idcard The ID card number is not valid (check digit)." in run.stdout
