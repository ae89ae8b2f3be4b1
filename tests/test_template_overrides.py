"""Operators restyle pages by dropping a template of the same name into <data_dir>/templates:
the served page is theirs, every other page stays packaged, and article text stays escaped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from widget_server import resources
from widget_server.app import create_app
from widget_server.search import reindex
from widget_server.settings import Settings

MARKER = '<p class="operator-marker">Acme support, open 9 to 5</p>'


def override(settings: Settings, name: str) -> None:
    """A copy of the packaged template `name` with MARKER at the top of its content."""
    packaged = (resources.TEMPLATES_DIR / name).read_text(encoding="utf-8")
    assert "{% block content %}" in packaged
    target = Path(settings.data_dir) / "templates" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(packaged.replace("{% block content %}", "{% block content %}" + MARKER, 1),
                      encoding="utf-8")


def app_with(settings: Settings) -> TestClient:
    reindex(Path(settings.kb_dir), settings.index_dir)
    return TestClient(create_app(settings))


def test_an_overridden_article_page_is_served_and_still_escapes_article_text(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    override(settings, "kb/article.html")
    with app_with(settings) as client:
        hostile = client.get("/kb/hostile/hostile-markup")
        plain = client.get("/kb/billing/refunds")
        index = client.get("/kb/")
    assert hostile.status_code == plain.status_code == 200
    assert MARKER in hostile.text and MARKER in plain.text
    # The title and summary are the author's text, shown as text in the operator's page too.
    assert '<script>alert("title")</script>' not in hostile.text
    assert "Hostile &lt;script&gt;alert(" in hostile.text
    assert "<img src=x onerror" not in hostile.text
    assert "Refunds and returns" in plain.text
    assert MARKER not in index.text  # only the template dropped in changed


def test_an_overridden_base_layout_frames_every_page(make_settings: Callable[..., Settings],
                                                     ) -> None:
    settings = make_settings(site_name="Acme <Help>")
    base = resources.TEMPLATES_DIR / "base.html"
    target = Path(settings.data_dir) / "templates" / "base.html"
    target.parent.mkdir(parents=True)
    target.write_text(base.read_text(encoding="utf-8").replace(
        "{% block content %}{% endblock %}",
        "{% block content %}{% endblock %}" + MARKER + "<footer>{{ site_name }}</footer>", 1),
        encoding="utf-8")
    assert target.read_text(encoding="utf-8") != base.read_text(encoding="utf-8")
    with app_with(settings) as client:
        pages = [client.get(path) for path in ("/kb/", "/kb/billing/refunds", "/kb/search?q=refund",
                                               "/kb/no/such-article")]
    assert [p.status_code for p in pages] == [200, 200, 200, 404]
    for page in pages:
        assert MARKER in page.text, page.url
        assert "<footer>Acme &lt;Help&gt;</footer>" in page.text  # the setting, escaped
