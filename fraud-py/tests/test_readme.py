"""The README's Python quickstart runs as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_a_python_quickstart():
    assert len(python_blocks()) >= 1


def test_readme_python_quickstart_runs(capsys):
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "ROC AUC" in out
    assert "refused:" in out and "row 0, column 0" in out
