"""Every relative markdown link in docs/*.md resolves: the file exists and, for a
``#anchor``, the target page has a heading (GitHub's anchor of its text, ``-1``,
``-2`` for repeats) or an explicit ``<a id/name>`` of that name.

Pages get split (docs/models.md, docs/routing.md are index pages of their parts):
a link into a moved section must follow it, and this test names each one that
did not, with its page and line.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE = re.compile(r"`+[^`]*`+")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_ID = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)   # a link in a heading: its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _lines_outside_code(path: Path):
    fenced = False
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield n, line


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    for _n, line in _lines_outside_code(path):
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            k = seen.get(base, 0)
            seen[base] = k + 1
            out.add(base if k == 0 else f"{base}-{k}")
        out.update(_HTML_ID.findall(line))
    return out


def broken_links(pages: list[Path]) -> list[str]:
    cache: dict[Path, set[str]] = {}
    bad: list[str] = []
    for page in pages:
        for n, line in _lines_outside_code(page):
            for target in _LINK.findall(_CODE.sub("", line)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):   # http:, mailto: ...
                    continue
                file, _, frag = target.partition("#")
                dest = (page.parent / unquote(file)).resolve() if file else page
                where = f"{page.relative_to(ROOT)}:{n}: ({target})"
                if not dest.exists():
                    bad.append(f"{where} no such file")
                    continue
                if frag and dest.suffix == ".md":
                    if dest not in cache:
                        cache[dest] = anchors(dest)
                    if unquote(frag) not in cache[dest]:
                        bad.append(f"{where} no heading with that anchor in {dest.name}")
    return bad


def test_every_relative_link_and_anchor_in_docs_resolves():
    bad = broken_links(sorted(DOCS.glob("*.md")))
    assert not bad, "broken links in docs:\n" + "\n".join(bad)


@pytest.mark.parametrize("text,anchor", [
    ("Failure risk", "failure-risk"),
    ("Intervals: what 80 % promises", "intervals-what-80--promises"),
    ("`fleetstream plan INSTANCE`", "fleetstream-plan-instance"),
    ("Learned travel times (`engine.routing_learned_travel`; the `predictive` policy)",
     "learned-travel-times-enginerouting_learned_travel-the-predictive-policy"),
])
def test_anchor_of_a_heading(text, anchor):
    assert slug(text) == anchor


def test_a_broken_link_is_named(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\n## Part one\n\n[ok](#part-one) [ok](b.md#b)\n"
                                   "[moved](b.md#part-one) [gone](c.md)\n"
                                   "```\n[in code](nowhere.md)\n```\n`[span](nowhere.md)`\n")
    (tmp_path / "b.md").write_text("# B\n")
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        bad = broken_links([tmp_path / "a.md"])
    finally:
        ROOT = old
    assert bad == ["a.md:6: (b.md#part-one) no heading with that anchor in b.md",
                   "a.md:6: (c.md) no such file"]
