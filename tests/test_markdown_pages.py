"""The helper that cuts sections and blocks out of the docs: what the example tests rely on."""
import pytest

from markdown_pages import blocks, links, section

PAGE = """# Title

intro

## One

one text

```sh
# a shell comment, not a heading
echo one
```

### One, deeper

deeper text

## Two

two text [a link](docs/x.md) and `[not](a-link.md)`
"""


@pytest.fixture
def page(tmp_path):
    path = tmp_path / "page.md"
    path.write_text(PAGE)
    return path


def test_a_section_runs_to_the_next_heading_of_its_level_or_higher(page):
    one = section(page, "One")
    assert one.startswith("\none text") and "deeper text" in one and "two text" not in one
    assert section(page, "One, deeper") == "\ndeeper text\n\n"
    assert "two text" in section(page, "Title") and "intro" in section(page, "Title")


def test_a_line_in_a_fenced_block_is_never_a_heading(page):
    with pytest.raises(AssertionError, match="has no section 'a shell comment, not a heading'"):
        section(page, "a shell comment, not a heading")
    assert blocks(section(page, "One"), "sh") == ["# a shell comment, not a heading\necho one\n"]


def test_a_missing_section_fails_naming_the_page_and_the_heading(page):
    with pytest.raises(AssertionError, match=rf"{page} has no section 'Three'"):
        section(page, "Three")


def test_links_leave_out_inline_code(page):
    assert links(page) == ["docs/x.md"]
