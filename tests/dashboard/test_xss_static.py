"""Nothing user-supplied can reach raw HTML: an AST check of every ``dashboard`` source file.

- a call with ``unsafe_allow_html`` passes it ``False``, or passes only string constants as its other arguments;
- ``st.html`` / ``components.html`` / ``components.iframe`` / ``st.iframe`` get string constants only;
- no ``LinkColumn`` / ``ImageColumn`` (a table cell would become a URL the data chooses, ``javascript:`` included).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
RAW_HTML = {"html", "iframe"}
URL_COLUMNS = {"LinkColumn", "ImageColumn"}


def calls() -> Iterator[tuple[str, ast.Call]]:
    for path in sorted(DASHBOARD.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                yield f"{path.relative_to(DASHBOARD.parent)}:{node.lineno}", node


def name_of(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str | bool | int | float | type(None))


def arguments(call: ast.Call, *, skip: str = "") -> list[ast.expr]:
    return [*call.args, *(kw.value for kw in call.keywords if kw.arg != skip)]


def test_unsafe_html_gets_constants_only():
    sites, problems = 0, []
    for where, call in calls():
        flag = next((kw.value for kw in call.keywords if kw.arg == "unsafe_allow_html"), None)
        if flag is None or (isinstance(flag, ast.Constant) and flag.value is False):
            continue
        sites += 1
        if not (isinstance(flag, ast.Constant) and flag.value is True):
            problems.append(f"{where}: unsafe_allow_html must be a literal True or False")
        if not all(constant(arg) for arg in arguments(call, skip="unsafe_allow_html")):
            problems.append(f"{where}: {ast.unparse(call)[:100]}")
    print(f"unsafe_allow_html=True call sites: {sites}, with non-constant content: {len(problems)}")
    assert not problems, problems


def test_raw_html_and_url_columns():
    problems = []
    for where, call in calls():
        name = name_of(call)
        if name in RAW_HTML and isinstance(call.func, ast.Attribute) and \
                not all(constant(arg) for arg in arguments(call)):
            problems.append(f"{where}: {ast.unparse(call)[:100]}")
        if name in URL_COLUMNS:
            problems.append(f"{where}: {name} makes table data into URLs")
    assert not problems, problems


def test_the_check_catches_what_it_is_meant_to(tmp_path, monkeypatch):
    bad = tmp_path / "dashboard" / "bad.py"
    bad.parent.mkdir()
    bad.write_text("import streamlit as st\ntext = input()\nst.markdown(text, unsafe_allow_html=True)\n"
                   "st.markdown('<b>ok</b>', unsafe_allow_html=True)\nst.html(f'<p>{text}</p>')\n"
                   "st.column_config.LinkColumn('url')\n")
    monkeypatch.setattr(sys.modules[__name__], "DASHBOARD", bad.parent)
    flagged = [where for where, call in calls() if any(kw.arg == "unsafe_allow_html" for kw in call.keywords)
               and not all(constant(a) for a in arguments(call, skip="unsafe_allow_html"))]
    assert flagged == ["dashboard/bad.py:3"]
    try:
        test_raw_html_and_url_columns()
    except AssertionError as exc:
        assert "bad.py:5" in str(exc) and "bad.py:6" in str(exc)
    else:
        raise AssertionError("st.html with an f-string and a LinkColumn were not caught")
