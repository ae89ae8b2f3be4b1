"""A knowledge base in several languages: locale folders and translation keys, deskbell check's
reports, per-locale URLs with old links kept, the owner's strings and their errors, hreflang
and the sitemap, <html lang dir>, Babel dates, and visitors' emails in the ticket's language.

tests/data/multilingual is English (the default), Spanish, German and Arabic, with locale
folders: billing/refunds exists in all four (linked by path), account/reset-password has a
Spanish translation linked by `translation_of`, account/delete-account is English only."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli.main import main
from widget_server import i18n, mail
from widget_server.app import create_app
from widget_server.articles import LocaleOptions, load_kb, parse_article, untranslated
from widget_server.search import reindex
from widget_server.settings import Settings, SettingsError, load_settings

from .conftest import DATA
from .test_pages import elements
from .test_stale import write

KB = DATA / "multilingual"
FOLDERS = LocaleOptions(default="en", folders=True)


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """A private, writable copy of tests/data/multilingual (for conftest's make_settings)."""
    target = tmp_path / "kb"
    shutil.copytree(KB, target)
    return target


@pytest.fixture
def multilingual(make_settings: Callable[..., Settings], kb_dir: Path) -> Settings:
    settings = make_settings(locale_folders="true", public_url="https://help.example.com",
                             strings={"es": {"contact_cta": "Escríbenos"}})
    reindex(kb_dir, settings.index_dir, locales=LocaleOptions.from_settings(settings))
    return settings


@pytest.fixture
def site(multilingual: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(multilingual), follow_redirects=False) as client:
        yield client


# ---------------------------------------------------------------- articles and translations


def test_locale_folders_give_each_article_its_language_slug_and_translations() -> None:
    kb = load_kb(KB, FOLDERS)
    assert kb.problems == []
    by_slug = {a.slug: a for a in kb.articles}
    assert by_slug["es/billing/refunds"].locale == "es"
    assert by_slug["billing/refunds"].translations == {
        "ar": "ar/billing/refunds", "de": "de/billing/refunds", "es": "es/billing/refunds"}
    # Linked by translation_of, though the paths differ.
    assert by_slug["account/reset-password"].translations == {
        "es": "es/account/restablecer-contrasena"}
    assert by_slug["es/account/restablecer-contrasena"].translations == {
        "en": "account/reset-password"}
    assert by_slug["account/delete-account"].translations == {}
    # An alias of an article in a locale folder is in that folder's URL space.
    assert by_slug["es/billing/refunds"].aliases == ["es/devoluciones"]


def test_without_locale_folders_a_folder_is_a_category() -> None:
    kb = load_kb(KB)  # locale_folders off (the default): es/ is just a folder
    es = next(a for a in kb.articles if a.path == "es/billing/refunds.md")
    assert es.locale == "en" and es.slug == "es/billing/refunds"


def test_front_matter_locale_moves_the_url_and_keeps_the_old_one() -> None:
    article, problems = parse_article(
        "---\ntitle: Envíos\nlocale: es\ntranslation_of: billing/shipping\n---\nTexto\n"
        .encode(), Path("billing/envios.md"))
    assert problems == [] and article is not None
    assert (article.slug, article.aliases) == ("es/billing/envios", ["billing/envios"])
    assert article.translation_of == "billing/shipping"


def test_explicit_translations_link_and_default_locale_is_a_setting(tmp_path: Path) -> None:
    write(tmp_path, "precios.md", "---\ntitle: Precios\ntranslations: {en: en/pricing}\n---\nx\n")
    write(tmp_path, "pricing.md", "---\ntitle: Pricing\nlocale: en\n---\nx\n")
    kb = load_kb(tmp_path, LocaleOptions(default="es"))
    assert kb.problems == []
    by_slug = {a.slug: a for a in kb.articles}
    assert by_slug["precios"].locale == "es"  # no locale anywhere: the site's default
    assert by_slug["precios"].translations == {"en": "en/pricing"}
    assert by_slug["en/pricing"].translations == {"es": "precios"}


def test_check_reports_dangling_links_and_two_claims_to_one_place(tmp_path: Path) -> None:
    shutil.copytree(KB, tmp_path / "kb")
    kb_dir = tmp_path / "kb"
    write(kb_dir, "es/billing/reembolsos.md",
          "---\ntitle: Otro\ntranslation_of: billing/refunds\n---\nx\n")
    write(kb_dir, "de/account/konto.md",
          "---\ntitle: Konto\ntranslation_of: account/nowhere\n---\nx\n")
    write(kb_dir, "ar/account/x.md",
          "---\ntitle: X\ntranslations: {es: es/billing/refunds, fr: fr/nothing}\n---\nx\n")
    messages = [str(p) for p in load_kb(kb_dir, FOLDERS).problems]
    # The first by path keeps the place; the other is reported.
    assert ("es/billing/refunds.md:1: two es translations of one article: "
            "es/billing/reembolsos.md and this one") in " ".join(messages)
    assert "de/account/konto.md:1: translation_of: no article with slug 'account/nowhere'" in messages
    assert "ar/account/x.md:1: translations: fr: no article with slug 'fr/nothing'" in messages
    result = CliRunner().invoke(main, ["check", "--kb", str(kb_dir)],
                                env={"DESKBELL_LOCALE_FOLDERS": "true"})
    assert result.exit_code == 1
    assert "translation_of: no article with slug 'account/nowhere'" in result.output


def test_check_prints_the_untranslated_table() -> None:
    result = CliRunner().invoke(main, ["check", "--kb", str(KB)],
                                env={"DESKBELL_LOCALE_FOLDERS": "true"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index("locale   missing  articles")
    assert lines[start + 1:start + 4] == [
        "ar             2  account/delete-account, account/reset-password",
        "de             2  account/delete-account, account/reset-password",
        "es             1  account/delete-account",
    ]
    missing = untranslated(load_kb(KB, FOLDERS).articles, "en")
    assert [a.slug for a in missing["es"]] == ["account/delete-account"]


# ---------------------------------------------------------------- settings


def test_owner_strings_override_the_catalog_per_locale(site: TestClient) -> None:
    def catalog(locale: str) -> dict[str, str]:
        page = site.get("/embed", params={"locale": locale}).text
        return json.loads(re.search(r"data-strings='([^']*)'", page).group(1))  # type: ignore[union-attr]

    spanish = catalog("es")
    assert spanish["contact_cta"] == "Escríbenos"  # the owner's
    assert spanish["contact_title"] == i18n.catalog("es")["contact_title"]  # the rest: ours
    assert catalog("en")["contact_cta"] == "Contact us"  # only where the owner said
    assert not any(key.startswith("site_") for key in spanish)  # help-center words stay home


@pytest.mark.parametrize(("strings", "message"), [
    ({"es": {"contact_ctaa": "x"}}, "[strings.es] contact_ctaa: no such string (did you mean contact_cta"),
    ({"de": {"results_many": "{count} Artikel"}},
     "[strings.de] results_many: {count} is not a placeholder of this string; it takes {n}"),
    ({"fr": {"sent_body": "Merci !"}}, "[strings.fr] sent_body: must keep the placeholder {ref}"),
    ({"x y": {}}, "[strings.x y]: 'x y' is not a language tag"),
])
def test_a_bad_override_stops_the_start_naming_locale_and_key(strings: Any, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(overrides={"strings": strings}, config_file=None, environ={})
    assert str(caught.value).startswith("setting strings (--strings): ")
    assert message in str(caught.value)


def test_strings_come_from_toml_tables(tmp_path: Path) -> None:
    config = tmp_path / "deskbell.toml"
    config.write_text('default_locale = "ES"\n[strings.es]\ncontact_cta = "Escríbenos"\n',
                      encoding="utf-8")
    settings = load_settings(config_file=config, environ={})
    assert settings.default_locale == "es"
    assert settings.strings == {"es": {"contact_cta": "Escríbenos"}}
    with pytest.raises(SettingsError, match="default_locale"):
        load_settings(overrides={"default_locale": "español!"}, config_file=None, environ={})


# ---------------------------------------------------------------- help center


def html_tag(text: str) -> dict[str, str | None]:
    return next(attrs for tag, attrs in elements(text) if tag == "html")


def test_per_locale_urls_old_links_and_aliases(site: TestClient) -> None:
    assert site.get("/kb/es/billing/refunds").status_code == 200
    # An alias of the Spanish article lives under /kb/es/.
    assert site.get("/kb/es/devoluciones").headers["location"] == "/kb/es/billing/refunds"
    # English is the default language: its articles keep their plain URLs.
    assert site.get("/kb/billing/refunds").status_code == 200
    assert site.get("/kb/es").headers["location"] == "/kb/es/"
    assert site.get("/kb/en/").headers["location"] == "/kb/"


def test_old_links_of_an_article_that_moved_to_its_language_keep_working(
        tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write(kb, "billing/envios.md", "---\ntitle: Envíos\nlocale: es\naliases: [envio]\n---\nx\n")
    settings = load_settings(overrides={"kb_dir": str(kb), "data_dir": str(tmp_path / "d")},
                             config_file=None, environ={})
    reindex(kb, settings.index_dir)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        for old in ("/kb/billing/envios", "/kb/envio"):
            assert client.get(old).headers["location"] == "/kb/es/billing/envios"
        assert client.get("/api/v1/articles/billing/envios").json()["redirect_to"] == (
            "es/billing/envios")


def test_every_page_has_the_right_lang_and_dir(site: TestClient) -> None:
    for url, lang, direction in [("/kb/", "en", "ltr"), ("/kb/es/", "es", "ltr"),
                                 ("/kb/ar/", "ar", "rtl"), ("/kb/ar/billing/refunds", "ar", "rtl"),
                                 ("/kb/de/billing/refunds", "de", "ltr"),
                                 ("/kb/search?q=refund", "en", "ltr"),
                                 ("/kb/search?q=reembolso&locale=es", "es", "ltr"),
                                 ("/kb/nowhere", "en", "ltr")]:
        attrs = html_tag(site.get(url).text)
        assert (attrs["lang"], attrs["dir"]) == (lang, direction), url
    assert html_tag(site.get("/embed", params={"locale": "ar"}).text)["dir"] == "rtl"


def test_article_page_offers_its_translations_with_hreflang(site: TestClient) -> None:
    page = site.get("/kb/es/billing/refunds").text
    links = [(a.get("hreflang"), a.get("href")) for tag, a in elements(page)
             if tag == "link" and a.get("rel") == "alternate"]
    assert links == [("ar", "https://help.example.com/kb/ar/billing/refunds"),
                     ("de", "https://help.example.com/kb/de/billing/refunds"),
                     ("en", "https://help.example.com/kb/billing/refunds"),
                     ("es", "https://help.example.com/kb/es/billing/refunds"),
                     ("x-default", "https://help.example.com/kb/billing/refunds")]
    assert "También en" in page and 'href="/kb/billing/refunds" hreflang="en"' in page
    # The language switcher names each language in itself; this page's is current.
    assert '<span aria-current="true" lang="es">Español</span>' in page
    assert 'lang="ar">العربية</a>' in page
    # An untranslated article has no alternates.
    alone = site.get("/kb/account/delete-account").text
    assert 'hreflang="es" href="https' not in alone


def test_dates_and_counts_are_written_as_each_language_writes_them(site: TestClient) -> None:
    assert '<time datetime="2026-03-02">2 de marzo de 2026</time>' in site.get(
        "/kb/es/billing/refunds").text
    assert '<time datetime="2026-03-04">4. März 2026</time>' in site.get(
        "/kb/de/billing/refunds").text
    assert '<time datetime="2026-03-02">March 2, 2026</time>' in site.get(
        "/kb/billing/refunds").text
    assert i18n.format_number(12345, "de") == "12.345"
    assert i18n.format_day("2026-03-02", "ja") == "2026年3月2日"


def test_a_locale_front_page_falls_back_to_english_marked(site: TestClient) -> None:
    page = site.get("/kb/es/").text
    assert "Reembolsos y devoluciones" in page and "Refunds and returns" not in page
    assert "Restablecer tu contraseña" in page
    # Not translated: in English, marked with its language.
    assert '<li lang="en"><a href="/kb/account/delete-account">Delete your account</a> ' \
           '<span class="cat">(English)</span>' in page


def test_one_sitemap_with_alternates_for_every_translation(site: TestClient) -> None:
    root = ET.fromstring(site.get("/sitemap.xml").content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9",
          "x": "http://www.w3.org/1999/xhtml"}
    urls = {u.findtext("s:loc", namespaces=ns): u for u in root.findall("s:url", ns)}
    base = "https://help.example.com"
    assert {f"{base}/kb/", f"{base}/kb/es/", f"{base}/kb/de/", f"{base}/kb/ar/"} <= set(urls)
    refunds = urls[f"{base}/kb/de/billing/refunds"]
    alternates = {(link.get("hreflang"), link.get("href"))
                  for link in refunds.findall("x:link", ns)}
    assert alternates == {("en", f"{base}/kb/billing/refunds"),
                          ("es", f"{base}/kb/es/billing/refunds"),
                          ("de", f"{base}/kb/de/billing/refunds"),
                          ("ar", f"{base}/kb/ar/billing/refunds"),
                          ("x-default", f"{base}/kb/billing/refunds")}
    assert urls[f"{base}/kb/account/delete-account"].findall("x:link", ns) == []


def test_llms_txt_lists_each_language_under_its_own_headings(site: TestClient) -> None:
    text = site.get("/llms.txt").text
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    # The default language first, then each other one, named in its own words.
    assert headings[:2] == ["Account", "Billing"]
    assert {h.rsplit(" (", 1)[-1] for h in headings[2:]} == {"Deutsch)", "Español)",
                                                             "العربية)"}
    spanish = text.split("(Español)", 1)[1]
    assert "/kb/es/billing/refunds" in spanish
    assert "/kb/es/" not in text.split("## ", 3)[1] + text.split("## ", 3)[2]


# ---------------------------------------------------------------- API and panel page


def test_article_api_returns_translations_and_suggestions_speak_the_locale(
        site: TestClient) -> None:
    article = site.get("/api/v1/articles/es/billing/refunds").json()
    assert article["locale"] == "es"
    assert article["translations"] == {"ar": "ar/billing/refunds", "de": "de/billing/refunds",
                                       "en": "billing/refunds"}
    suggested = site.get("/api/v1/suggestions", params={"locale": "es", "limit": 5}).json()
    titles = {(r["title"], r["locale"]) for r in suggested["results"]}
    assert titles == {("Reembolsos y devoluciones", "es"), ("Restablecer tu contraseña", "es"),
                      ("Delete your account", "en")}


@pytest.mark.parametrize(("asked", "speaks"), [
    ("es-MX", "es"), ("pt_BR", "pt"), ("ja", "ja"), ("sv", "en"), ("", "en"), ("ar", "ar")])
def test_the_panel_speaks_the_closest_language_it_has(site: TestClient, asked: str,
                                                      speaks: str) -> None:
    attrs = html_tag(site.get("/embed", params={"locale": asked}).text)
    assert attrs["lang"] == speaks


# ---------------------------------------------------------------- emails


def ticket(locale: str) -> dict[str, Any]:
    return {"reference": "DB-AAAA-BBBB-CCCC", "email": "v@example.com", "locale": locale,
            "thread": []}


def test_the_visitor_email_is_in_the_ticket_language(multilingual: Settings) -> None:
    settings = multilingual.replace(strings={})
    spanish = mail.agent_reply_message(settings, ticket("es"))
    assert spanish["Subject"] == "Nueva respuesta a tu solicitud DB-AAAA-BBBB-CCCC"
    text = spanish.get_content()
    assert text.startswith("Hola:\n\nHay una nueva respuesta a tu solicitud DB-AAAA-BBBB-CCCC")
    assert "elige «Tus solicitudes»" in text  # the panel's own button, in Spanish
    assert "https://help.example.com/kb/es/" in text  # the Spanish help center
    arabic = mail.agent_reply_message(settings, ticket("ar")).get_content()
    assert "يوجد رد جديد على طلبك" in arabic
    # A language Deskbell has no sentences in: English.
    assert mail.agent_reply_message(settings, ticket("sv"))["Subject"] == (
        "New reply to your request DB-AAAA-BBBB-CCCC")
    assert "https://help.example.com/kb/\n" in mail.agent_reply_message(
        settings, ticket("sv")).get_content()


def test_the_threaded_reply_is_in_the_ticket_language(multilingual: Settings) -> None:
    settings = multilingual.replace(mail_reply_to="support@example.com")
    entry = {"id": "e1", "author": "agent", "author_name": "Ana", "body": "Hola, ya está."}
    german = mail.agent_reply_message(settings, {**ticket("de"), "thread": [entry]}, entry,
                                      b"k" * 32)
    assert german["Subject"] == "Re: Ihre Anfrage DB-AAAA-BBBB-CCCC"
    text = german.get_content()
    assert text.startswith("Ana hat auf Ihre Anfrage DB-AAAA-BBBB-CCCC bei Help Center "
                           "geantwortet:\n\nHola, ya está.")
    assert "„Ihre Anfragen“" in text


def test_every_ui_language_has_the_email_sentences() -> None:
    english = i18n.MAIL["en"]
    assert set(i18n.MAIL) == set(i18n.ui_locales())
    for locale, texts in i18n.MAIL.items():
        assert texts.keys() == english.keys(), locale
        for key, text in texts.items():
            assert i18n.placeholders(text) == i18n.placeholders(english[key]), (locale, key)


def test_commands_name_articles_by_the_slugs_the_help_center_serves(tmp_path: Path) -> None:
    """On a German site (default_locale = de), `deskbell notice set` keeps the article's slug
    as the help center serves it, konto/passwort, not the de/… of an English default."""
    write(tmp_path / "kb", "konto/passwort.md", "---\ntitle: Passwort ändern\nlocale: de\n"
          "summary: So ändern Sie Ihr Passwort.\n---\n\nÖffnen Sie die Einstellungen.\n")
    args = ["--kb", str(tmp_path / "kb"), "--data-dir", str(tmp_path / "data")]
    env = {"DESKBELL_DEFAULT_LOCALE": "de"}
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    made = CliRunner().invoke(main, ["notice", "set", "Störung", "--until", until,
                                     "--article", "konto/passwort", *args], env=env)
    assert made.exit_code == 0, made.output
    listed = CliRunner().invoke(main, ["notice", "list", "--format", "json", *args], env=env)
    [notice] = json.loads(listed.output)
    assert notice["article"] == "konto/passwort"
