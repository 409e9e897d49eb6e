"""Cutting sections, fenced blocks and links out of the project's Markdown pages, for the tests that run them."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
HEADING = re.compile(r"(#{1,6}) +(.*?) *#* *$")
# [text](target) and ![alt](target); the target stops at a space (a title) or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")


def pages():
    """README.md and every page under docs/, as paths relative to the repository."""
    return ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))


def read(page):
    return (ROOT / page).read_text()


def section(page, heading):
    """The text under `heading` (its words, at any level, without the #s) in page,
    up to the next heading of the same or a higher level. Lines inside fenced
    blocks are never headings (a shell comment starts with # too)."""
    lines = read(page).splitlines(keepends=True)
    found, fenced, level, body = 0, False, None, []
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced or line.startswith("```") else HEADING.match(line.rstrip("\n"))
        if match and level is not None and len(match.group(1)) <= level:
            level = None
        if level is not None:
            body.append(line)
        elif match and match.group(2) == heading:
            found += 1
            level = len(match.group(1))
    assert found, f"{page} has no section {heading!r}"
    assert found == 1, f"{page} has {found} sections {heading!r}"
    return "".join(body)


def blocks(text, lang):
    """The bodies of the ```lang fenced blocks of text, in order."""
    return [body for kind, body in FENCE.findall(text) if kind == lang]


def links(page):
    """Every link target of page outside fenced blocks and inline code."""
    text = FENCE.sub("", read(page))
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)
