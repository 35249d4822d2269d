"""docs/python.md's first example (the README's) runs as written, in a fresh interpreter."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "python.md"
MARKER = "<!-- the README's example; bindings/python/tests/test_docs.py runs it -->"


def example_in(path):
    text = path.read_text(encoding="utf-8")
    return re.search(r"```python\n(.*?)```", text[text.index(MARKER) :], re.S).group(1)


def test_the_quick_start_example_runs():
    example = example_in(DOC)
    assert "Sandbox()" in example and "juhe_2fa.Client" in example
    run = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "verdict='match'" in run.stdout
    assert "idcard The ID card number is not valid (check digit)." in run.stdout


def test_the_readme_shows_the_same_example():
    assert example_in(ROOT / "README.md") == example_in(DOC)
