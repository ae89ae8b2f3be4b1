"""Each language read as itself: elisions, compounds, accents, Arabic letters and scripts
without spaces; typo correction and synonyms that stay in their language; the default
locale's articles as a marked fallback; and an index of before languages rebuilt whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from widget_server.search import SearchService, Synonyms, current_generation, reindex
from widget_server.search.analysis import ENGLISH_ONLY, fold, language, normalize_arabic
from widget_server.search.layout import ANALYSIS_FILE, WORDS_FILE

ARTICLES = {
    "account.md": ("en", "Your account", "Open Account settings to change your password. "
                      "The Cuenca office handles Cuenca customers and Cuenca invoices."),
    "payments.md": ("en", "Payments with PayPal", "Pay with PayPal or a card."),
    "fr/abonnement.md": ("fr", "Gérer votre abonnement", "Vous pouvez résilier votre "
                         "abonnement à tout moment depuis la page Compte. Le téléchargement "
                         "des factures est gratuit."),
    "fr/motdepasse.md": ("fr", "Mot de passe", "Choisissez un nouveau mot de passe."),
    "es/cuenta.md": ("es", "Tu cuenta", "Cambia tu contraseña desde la configuración de la "
                     "cuenta. La información de facturación está en Cuenta."),
    "es/envios.md": ("es", "Envíos", "El envío es gratis desde 50 euros."),
    "de/passwort.md": ("de", "Konto verwalten", "Die Passwortänderung findest Du unter "
                       "Einstellungen. Die Zwei-Faktor-Authentifizierung schützt Dein Konto."),
    "de/versand.md": ("de", "Versand", "Der Versand ist ab 50 Euro kostenlos."),
    "ar/library.md": ("ar", "المكتبة", "يمكنك استعارة الكُتُب من مَكتبةِ المدينة وإعادة الكتب "
                      "في أي وقت."),
    "zh/password.md": ("zh", "密码", "如何重置您的密码：打开设置页面，然后选择安全。"),
    "ja/shipping.md": ("ja", "配送について", "注文は三日以内に発送されます。送料は無料です。"),
}


def _write_kb(kb: Path) -> None:
    for relative, (locale, title, body) in ARTICLES.items():
        path = kb / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\ntitle: {title}\nlocale: {locale}\n---\n{body}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchService]:
    base = tmp_path_factory.mktemp("languages")
    _write_kb(base / "kb")
    (base / "synonyms.txt").write_text("card, plastic money\n", encoding="utf-8")
    (base / "synonyms.es.txt").write_text("plata, dinero, euros\n", encoding="utf-8")
    reindex(base / "kb", base / "index", semantic=False)
    svc = SearchService(base / "index", Synonyms.load(base / "synonyms.txt"), semantic=False)
    yield svc
    svc.close()


def slugs(service: SearchService, q: str, locale: str) -> list[str]:
    return [hit.slug for hit in service.search(q, limit=5, locale=locale).hits]


# ---------------------------------------------------------------- analyzers


def test_french_and_italian_elisions_are_dropped() -> None:
    french = language("fr")
    assert french.terms("l'abonnement") == french.terms("abonnement")
    assert french.terms("d’abonnements") == french.terms("abonnement")  # typographic quote too
    assert language("it").split("dell'account l'utente") == ["account", "utente"]
    assert language("ca").split("l'usuari") == ["usuari"]


def test_accents_fold_after_stemming_and_the_stemmer_is_the_languages() -> None:
    french = language("fr")
    assert french.terms("téléchargement") == french.terms("telechargement")
    assert language("es").term("información") == "inform"  # Snowball Spanish, not Porter
    assert language("de").term("passwörter") == language("de").term("passwort")
    assert fold("Crème brûlée ß") == "Creme brulee ss"
    assert fold("ёлка й") == "елка й"  # Cyrillic keeps its own letters


def test_english_is_analyzed_as_before_languages() -> None:
    assert language("en") is ENGLISH_ONLY and language("en-GB") is ENGLISH_ONLY
    assert ENGLISH_ONLY.terms("naïve Résumé") == ["naïv", "résumé"]  # accents kept, as always


def test_arabic_letters_and_diacritics_are_normalized() -> None:
    assert normalize_arabic("أإآٱ") == "اااا"
    assert normalize_arabic("مَكتبةِ") == "مكتبه"  # diacritics gone, taa marbuta → haa
    assert normalize_arabic("مسؤول شاطئ على") == "مسوول شاطي علي"
    arabic = language("ar")
    assert arabic.terms("الكُتُب") == arabic.terms("الكتب")


def test_chinese_japanese_and_thai_are_cut_into_pairs_of_characters() -> None:
    assert language("zh").split("重置密码 Nextcloud") == ["重置", "置密", "密码", "nextcloud"]
    assert language("ja").split("送料") == ["送料"]
    thai = language("th").split("รหัสผ่าน")
    assert len(thai) > 1 and all(len(pair) == 2 for pair in thai)  # vowel signs kept inside


def test_stop_and_question_words_are_the_languages() -> None:
    assert language("fr").is_stop("comment") and not language("fr").is_stop("abonnement")
    assert language("es").is_stop("como") and language("es").is_stop("cómo")
    assert language("de").is_stop("wie")


# ---------------------------------------------------------------- search


def test_a_french_query_with_an_elision_and_no_accents(service: SearchService) -> None:
    assert slugs(service, "résilier l'abonnement", "fr")[0] == "fr/abonnement"
    assert slugs(service, "telechargement des factures", "fr")[0] == "fr/abonnement"


def test_a_spanish_query_typed_without_accents(service: SearchService) -> None:
    assert slugs(service, "cambiar contrasena", "es")[0] == "es/cuenta"
    assert slugs(service, "informacion de facturacion", "es")[0] == "es/cuenta"


def test_a_german_compound_is_found_by_its_first_word(service: SearchService) -> None:
    assert slugs(service, "passwort", "de")[0] == "de/passwort"
    assert slugs(service, "zwei-faktor", "de")[0] == "de/passwort"


def test_arabic_and_cjk_queries(service: SearchService) -> None:
    assert slugs(service, "مكتبة الكتب", "ar")[0] == "ar/library"  # ة written as ه in none
    assert slugs(service, "重置密码", "zh")[0] == "zh/password"
    assert slugs(service, "送料は無料ですか", "ja")[0] == "ja/shipping"
    hit = service.search("重置密码", locale="zh").hits[0]
    assert "<mark>密码</mark>" in hit.snippet


def test_typo_correction_stays_in_the_locales_words(service: SearchService) -> None:
    gen = service.generation
    assert gen is not None
    # "cuenra" is one edit from the English "cuenca" (used more) and the Spanish "cuenta".
    assert gen.corrections("cuenra", "es") == ["cuenta"]
    assert gen.corrections("cuenra", "en") == ["cuenca"]
    result = service.search("cuenra", locale="es")
    assert not result.fallback and [h.slug for h in result.hits][:1] == ["es/cuenta"]


def test_synonyms_are_per_locale(service: SearchService) -> None:
    # synonyms.es.txt: plata = dinero = euros; the English file's groups never reach Spanish.
    assert slugs(service, "plata", "es") == ["es/envios"]
    result = service.search("plastic money", locale="es")
    assert result.fallback and result.locale == "en"
    assert [h.slug for h in result.hits][:1] == ["payments"]  # English synonyms, in English


def test_a_fallback_is_marked_and_never_mixes_languages(service: SearchService) -> None:
    result = service.search("paypal", locale="fr")
    assert result.fallback and result.locale == "en"
    assert {h.locale for h in result.hits} == {"en"}
    own = service.search("abonnement", locale="fr")
    assert not own.fallback and own.locale == "fr" and {h.locale for h in own.hits} == {"fr"}
    unknown = service.search("paypal", locale="pt-BR")  # a language the knowledge base lacks
    assert unknown.fallback and unknown.locale == "en"
    assert not service.search("paypal").fallback  # no locale: the default locale, as asked


# ---------------------------------------------------------------- reindex


def test_an_index_of_before_languages_is_rebuilt_whole(tmp_path: Path) -> None:
    _write_kb(tmp_path / "kb")
    index = tmp_path / "index"
    reindex(tmp_path / "kb", index, semantic=False, per_locale=False)  # the previous analysis
    old = current_generation(index)
    assert old is not None
    (index / old / ANALYSIS_FILE).unlink()  # as an earlier Deskbell left it: no such file
    before = SearchService(index, semantic=False)
    assert before.search("paypal", locale="en").hits  # still served, read as English
    before.close()
    result = reindex(tmp_path / "kb", index, semantic=False)  # a plain, incremental reindex
    assert result.full and result.indexed == len(ARTICLES) and result.unchanged == 0
    new = current_generation(index)
    assert new is not None and new != old
    words = json.loads((index / new / WORDS_FILE).read_text(encoding="utf-8"))
    assert "contraseña" in words["es"] and "contraseña" not in words["en"]
    again = reindex(tmp_path / "kb", index, semantic=False)
    assert not again.full and again.indexed == 0  # and from then on incrementally
    after = SearchService(index, semantic=False)
    assert [h.slug for h in after.search("résilier l'abonnement", locale="fr").hits][:1] == [
        "fr/abonnement"]
    after.close()


def test_a_fallback_hit_names_its_translation_in_the_visitors_locale(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "es").mkdir(parents=True)
    (kb / "refunds.md").write_text(
        "---\ntitle: Refunds\ntranslations: {es: es/reembolsos}\n---\nPayPal refunds take "
        "three days.\n", encoding="utf-8")
    (kb / "es" / "reembolsos.md").write_text(
        "---\ntitle: Reembolsos\nlocale: es\n---\nDevolvemos el dinero en tres días.\n",
        encoding="utf-8")
    (kb / "shipping.md").write_text("---\ntitle: Shipping\n---\nPayPal orders ship today.\n",
                                    encoding="utf-8")
    reindex(kb, tmp_path / "index", semantic=False)
    svc = SearchService(tmp_path / "index", semantic=False)
    result = svc.search("paypal", locale="es")
    svc.close()
    assert result.fallback
    translations = {h.slug: h.translation for h in result.hits}
    assert translations == {"refunds": "es/reembolsos", "shipping": None}
    assert result.hits[0].as_dict()["translation"] in ("es/reembolsos", None)
