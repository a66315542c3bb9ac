"""docs/ stays true: the API reference and the data schemas are what tools/apidoc.py makes of
the code and the data today, and every link in README.md and docs/*.md resolves inside the
repository (only http(s) URLs point outside it)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = "run `.venv/bin/python tools/apidoc.py` and commit docs/"


def _apidoc():
    spec = importlib.util.spec_from_file_location("apidoc", ROOT / "tools" / "apidoc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_current():
    assert (ROOT / "docs/api.md").read_text() == _apidoc().render_api(), FIX


def test_data_schemas_are_current(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert (ROOT / "docs/schemas.md").read_text() == _apidoc().render_schemas(), FIX


def test_api_reference_holds_every_public_name_and_its_docstring():
    import inspect

    import perfkit

    text = (ROOT / "docs/api.md").read_text()
    for name in perfkit.__all__:
        if name == "__version__":
            continue
        assert f"### `perfkit.{name}`" in text, name
        summary = (inspect.getdoc(getattr(perfkit, name)) or "").splitlines()[0]
        first = re.split(r"[`<*&]", summary)[0]  # the part the Markdown escaping leaves alone
        assert first in text, name


def test_schemas_state_the_columns_the_loaders_give():
    """Independent of the generator: a loader's columns read here appear in its section."""
    import perfkit

    text = (ROOT / "docs/schemas.md").read_text()
    section = text.split('## read_locust(table="history")', 1)[1].split("\n## ", 1)[0]
    history = perfkit.read_locust(ROOT / "data/baseline", table="history")
    for column, dtype in history.dtypes.items():
        assert f"| `{column}` | `{dtype}` |" in section, column
    assert "`string[pyarrow]`" in section and "`Int64`" in section


# -- links ---------------------------------------------------------------------------------
FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HREF = re.compile(r"<a\s[^>]*href=\"([^\"]*)\"", re.IGNORECASE)
ANCHOR = re.compile(r"<a\s[^>]*(?:id|name)=\"([^\"]*)\"", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            lines.append("")
            continue
        lines.append("" if fenced else line)
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor: Markdown links keep their text, then lower case, punctuation but
    hyphens and underscores dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file offers: its headings (numbered when repeated, as GitHub
    does) and explicit ``<a id=...>``/``<a name=...>``."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(path.read_text()):
        found.update(ANCHOR.findall(line))
        match = HEADING.match(line)
        if match:
            slug = _slug(match[2])
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each link of `path`: a target outside `root`, a missing file, an
    anchor its file does not have, a scheme other than http(s)."""
    problems = []
    for number, line in enumerate(_prose(path.read_text()), start=1):
        line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
        for target in LINK.findall(line) + HREF.findall(line):
            where = f"{path.relative_to(root)}:{number}: {target}"
            if re.match(r"https?://", target):
                continue
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
                problems.append(f"{where}: only http(s) links may leave the repository")
                continue
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            if not resolved.is_relative_to(root):
                problems.append(f"{where}: outside the repository")
            elif not resolved.exists():
                problems.append(f"{where}: no such file")
            elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
                problems.append(f"{where}: no anchor #{anchor}")
    return problems


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_link_resolves_inside_the_repository(path):
    assert broken_links(path) == []


def test_the_link_check_catches_what_it_should(tmp_path):
    """The control: each kind of bad link is reported, the good ones are not."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## A `code` heading\n## Twice\n"
                                                "## Twice\n<a id=\"kept\"></a>\n")  # fmt: skip
    page = tmp_path / "README.md"
    page.write_text(
        "# Top\n[ok](docs/other.md#a-code-heading) [ok](docs/other.md#twice-1) [ok](#top)\n"
        "[ok](docs/other.md#kept) [ok](https://example.org/x) `[not a link](nowhere.md)`\n"
        "```\n[in a block](nowhere.md)\n```\n"
        "[design](../shared/DESIGN.md) [gone](docs/missing.md) [bad](docs/other.md#nope)\n"
        '[mail](mailto:a@b.c) [file](file:///etc/passwd) <a href="#absent">x</a>\n'
    )
    found = broken_links(page, root=tmp_path)
    assert [p.split(": ", 1)[1] for p in found] == [
        "../shared/DESIGN.md: outside the repository",
        "docs/missing.md: no such file",
        "docs/other.md#nope: no anchor #nope",
        "mailto:a@b.c: only http(s) links may leave the repository",
        "file:///etc/passwd: only http(s) links may leave the repository",
        "#absent: no anchor #absent",
    ]


def test_readme_links_the_docs():
    text = (ROOT / "README.md").read_text()
    for page in ("docs/design.md", "docs/api.md", "docs/schemas.md"):
        assert f"]({page})" in text, page
