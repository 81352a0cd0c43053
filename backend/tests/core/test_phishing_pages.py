"""The default teachable-moment page and the neutral page of phishing simulations.

Rendered the strict way: sandboxed, autoescaped, and with StrictUndefined so a template that
reaches for a variable it was not given fails here rather than in front of a learner.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2 import FileSystemLoader, StrictUndefined, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ENV = ImmutableSandboxedEnvironment(
    loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
)
HOSTILE = '<script>alert("x")</script>'
# Passed to teachable() to leave a variable out of the context altogether.
OMIT: Any = object()


class Outline(HTMLParser):
    """Collects what the accessibility checks need: elements, headings, attributes, links."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.headings: list[int] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.links: list[str | None] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))
        if tag == "a":
            self.links.append(dict(attrs).get("href"))


def render(name: str, **context: Any) -> str:
    return ENV.get_template(f"phishing/{name}").render(**context)


def teachable(**changes: Any) -> str:
    context: dict[str, Any] = {
        "company_name": "Example Ltd",
        "first_name": "Ada",
        "template_subject": "Your parcel is waiting",
        "red_flags": ["The sender's domain is examp1e-delivery.com", "It asks you to pay a fee"],
        "remediation_url": "https://vigil.example/learn/phishing-basics?from=sim&x=1",
        "report_instructions": "Use the Report phish button in your mail app.",
    }
    context.update(changes)
    return render("teachable_moment.html", **{k: v for k, v in context.items() if v is not OMIT})


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    parser.close()
    return parser


def assert_accessible_shape(html: str) -> Outline:
    page = outline(html)
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert page.lang == "en"
    assert page.tags.count("main") == 1
    assert page.tags.count("title") == 1
    assert page.headings[0] == 1
    assert page.headings.count(1) == 1
    # No heading level is skipped on the way down (h1 → h3 would be).
    assert all(b <= a + 1 for a, b in zip(page.headings, page.headings[1:], strict=False))
    assert "script" not in page.tags
    assert not [name for name, _ in page.attributes if name == "style" or name.startswith("on")]
    return page


class TestTeachableMoment:
    def test_is_accessible_html_without_script(self):
        page = assert_accessible_shape(teachable())
        assert {"header", "main", "footer"} <= set(page.tags)

    def test_says_it_was_a_simulation_and_no_one_is_in_trouble(self):
        html = teachable()
        assert "Ada, this was a phishing simulation" in html
        assert "No one is in trouble" in html
        assert "Example Ltd" in html
        assert "Your parcel is waiting" in html

    def test_lists_each_red_flag_in_order(self):
        html = teachable()
        first = html.index("<li>The sender&#39;s domain is examp1e-delivery.com</li>")
        assert first < html.index("<li>It asks you to pay a fee</li>")

    def test_red_flags_are_escaped(self):
        html = teachable(red_flags=[HOSTILE, "Look at <b>this</b> & that"])
        assert HOSTILE not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        assert "Look at &lt;b&gt;this&lt;/b&gt; &amp; that" in html
        assert "script" not in outline(html).tags

    def test_every_variable_is_escaped(self):
        html = teachable(
            company_name=HOSTILE,
            first_name=HOSTILE,
            template_subject=HOSTILE,
            report_instructions=HOSTILE,
        )
        assert HOSTILE not in html
        assert_accessible_shape(html)

    @pytest.mark.parametrize("first_name", ["", None, OMIT], ids=["empty", "none", "omitted"])
    def test_without_a_first_name_the_heading_reads_naturally(self, first_name):
        html = teachable(first_name=first_name)
        assert "<h1>This was a phishing simulation</h1>" in html

    def test_links_to_the_remedial_course_when_there_is_one(self):
        page = outline(teachable())
        assert "https://vigil.example/learn/phishing-basics?from=sim&x=1" in page.links

    @pytest.mark.parametrize("remediation_url", ["", None, OMIT], ids=["empty", "none", "omitted"])
    def test_without_a_remedial_course_there_is_no_course_link(self, remediation_url):
        html = teachable(remediation_url=remediation_url)
        assert "Start the course" not in html
        assert [link for link in outline(html).links if link != "#content"] == []

    def test_shows_the_company_report_instructions(self):
        assert "Use the Report phish button in your mail app." in teachable()

    @pytest.mark.parametrize("report_instructions", ["", OMIT], ids=["empty", "omitted"])
    def test_without_report_instructions_a_general_one_is_given(self, report_instructions):
        assert "tell your security team" in teachable(report_instructions=report_instructions)

    def test_without_red_flags_general_clues_are_shown(self):
        html = teachable(red_flags=[])
        assert "Red flags to look for" in html
        assert "Phishing emails often share some of these clues" in html
        assert_accessible_shape(html)

    def test_a_missing_required_variable_fails_loudly(self):
        with pytest.raises(UndefinedError):
            teachable(company_name=OMIT)


class TestNeutralPage:
    def test_renders_with_no_variables(self):
        html = render("neutral.html")
        assert "This link is no longer active." in html
        assert_accessible_shape(html)

    def test_reveals_nothing_about_the_platform(self):
        text = render("neutral.html").lower()
        for word in ("vigil", "phish", "simulation", "training", "campaign", "security"):
            assert word not in text
