"""The languages Deskbell speaks: the UI catalogs, the owner's overrides of them, text
direction, language names, and dates and numbers formatted per locale (Babel).

The catalogs are static/widget/i18n/<locale>.json, one per UI language, each translating
every string of en.json with the same {placeholders}. Keys starting with `site_` are the help
center's own (its pages, never the panel), so the panel's page does not carry them. The owner
overrides any string per locale in deskbell.toml (`[strings.es]`), checked at start by
`check_overrides`: an unknown key or a placeholder missing or extra is one error naming both.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal

from . import resources

SITE_PREFIX = "site_"
# Scripts written right to left: Arabic, Hebrew, Persian, Urdu.
RTL = frozenset({"ar", "he", "fa", "ur"})
_TAG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def normalize(raw: str) -> str:
    """A language tag as Deskbell writes it: lower case, `-` between parts (`pt-br`)."""
    return str(raw).strip().lower().replace("_", "-")


def is_tag(raw: str) -> bool:
    return bool(_TAG.match(normalize(raw)))


def language(tag: str) -> str:
    """The language of a tag: `pt-br` -> `pt`."""
    return normalize(tag).split("-")[0]


def direction(tag: str) -> str:
    return "rtl" if language(tag) in RTL else "ltr"


@cache
def ui_locales() -> tuple[str, ...]:
    """The panel's languages: one catalog each in static/widget/i18n, English first."""
    found = sorted(p.stem for p in (resources.widget_dir() / "i18n").glob("*.json"))
    return ("en", *(code for code in found if code != "en"))


@cache
def catalog(locale: str) -> dict[str, str]:
    """One language's catalog as written (no fallback); {} for a language without one."""
    path = resources.widget_dir() / "i18n" / f"{language(locale)}.json"
    if language(locale) not in ui_locales() or not path.is_file():
        return {}
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def strings(locale: str, overrides: Mapping[str, Mapping[str, str]] | None = None
            ) -> dict[str, str]:
    """Every string in `locale`: English, then the language's catalog, then the owner's
    overrides for the language and for the exact tag (`pt`, then `pt-br`)."""
    merged = dict(catalog("en"))
    merged.update(catalog(locale))
    for key in dict.fromkeys((language(locale), normalize(locale))):
        merged.update((overrides or {}).get(key, {}))
    return merged


def panel_strings(locale: str, overrides: Mapping[str, Mapping[str, str]] | None = None
                  ) -> dict[str, str]:
    """The strings the panel's page carries: the help center's own left out."""
    return {k: v for k, v in strings(locale, overrides).items()
            if not k.startswith(SITE_PREFIX)}


def check_overrides(value: Any) -> dict[str, dict[str, str]]:
    """The `strings` setting: {locale: {key: text}}, or ValueError naming the locale and key
    of the first problem (a key en.json does not have, a placeholder missing or extra)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise ValueError("expected tables like [strings.es] (in the environment: a JSON "
                             'object like {"es": {"contact_cta": "Escríbenos"}})') from None
    if not isinstance(value, Mapping):
        raise ValueError("expected tables like [strings.es], one per locale")
    english = catalog("en")
    out: dict[str, dict[str, str]] = {}
    for raw_locale, table in value.items():
        locale = normalize(raw_locale)
        if not is_tag(locale):
            raise ValueError(f"[strings.{raw_locale}]: {raw_locale!r} is not a language tag "
                             "like es or pt-br")
        if not isinstance(table, Mapping):
            raise ValueError(f"[strings.{locale}]: expected a table of key = \"text\"")
        out[locale] = {}
        for key, text in table.items():
            where = f"[strings.{locale}] {key}"
            if key not in english:
                near = difflib.get_close_matches(str(key), list(english), n=3)
                hint = f" (did you mean {', '.join(near)}?)" if near else ""
                raise ValueError(f"{where}: no such string{hint}")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{where}: expected non-empty text")
            wanted, got = placeholders(english[key]), placeholders(text)
            if got - wanted:
                extra = ", ".join(f"{{{p}}}" for p in sorted(got - wanted))
                raise ValueError(f"{where}: {extra} is not a placeholder of this string"
                                 + (f"; it takes {', '.join(f'{{{p}}}' for p in sorted(wanted))}"
                                    if wanted else "; it takes no placeholder"))
            if wanted - got:
                missing = ", ".join(f"{{{p}}}" for p in sorted(wanted - got))
                raise ValueError(f"{where}: must keep the placeholder {missing}")
            out[locale][str(key)] = text
    return out


# ---------------------------------------------------------------- Babel


@cache
def _babel(tag: str) -> Locale | None:
    for candidate in (normalize(tag).replace("-", "_"), language(tag)):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return None


def known_language(tag: str) -> bool:
    """Whether Babel knows the language (a folder named `es` is Spanish, `faq` is not)."""
    return is_tag(tag) and _babel(tag) is not None


def language_name(tag: str) -> str:
    """The language's own name, capitalized as at the start of a menu item: Español, 日本語."""
    found = _babel(tag)
    name = (found.get_display_name(found) or tag) if found else tag
    return name[:1].upper() + name[1:]


def format_day(value: str | dt.date, tag: str) -> str:
    """A date as the locale writes it (2 de marzo de 2026, 2. März 2026); "" for no date."""
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        return ""
    found = _babel(tag)
    return format_date(day, format="long", locale=found) if found else day.isoformat()


def format_number(value: float, tag: str) -> str:
    found = _babel(tag)
    return format_decimal(value, locale=found) if found else str(value)


__all__ = ["RTL", "catalog", "check_overrides", "direction", "format_day", "format_number",
           "is_tag", "known_language", "language", "language_name", "normalize",
           "panel_strings", "placeholders", "strings", "ui_locales"]


# ---------------------------------------------------------------- emails to visitors

# The fixed sentences of the visitor's emails, per UI language; {my_requests} is the panel's
# own button text in that language (with the owner's wording), so the mail names what the
# visitor sees. A language without its sentences here gets English.
MAIL: dict[str, dict[str, str]] = {
    "en": {
        "subject_new": "New reply to your request {reference}",
        "subject_re": "Re: Your request {reference}",
        "hello": "Hello,",
        "new_reply": "There is a new reply to your request {reference} at {site}.",
        "read_it": "To read it, open the help button on our site and choose \"{my_requests}\", or visit:",
        "replied": "{agent} replied to your request {reference} at {site}:",
        "answer": "Reply to this email to answer (keep the reference in the subject), or open the help button on our site and choose \"{my_requests}\":",
        "why": "You received this because a request was opened with this address.",
    },
    "es": {
        "subject_new": "Nueva respuesta a tu solicitud {reference}",
        "subject_re": "Re: Tu solicitud {reference}",
        "hello": "Hola:",
        "new_reply": "Hay una nueva respuesta a tu solicitud {reference} en {site}.",
        "read_it": "Para leerla, abre el botón de ayuda de nuestro sitio y elige «{my_requests}», o visita:",
        "replied": "{agent} respondió a tu solicitud {reference} en {site}:",
        "answer": "Responde a este correo para contestar (deja la referencia en el asunto), o abre el botón de ayuda de nuestro sitio y elige «{my_requests}»:",
        "why": "Recibes este correo porque se abrió una solicitud con esta dirección.",
    },
    "de": {
        "subject_new": "Neue Antwort auf Ihre Anfrage {reference}",
        "subject_re": "Re: Ihre Anfrage {reference}",
        "hello": "Hallo,",
        "new_reply": "Es gibt eine neue Antwort auf Ihre Anfrage {reference} bei {site}.",
        "read_it": "Um sie zu lesen, öffnen Sie die Hilfe auf unserer Website und wählen Sie „{my_requests}“, oder besuchen Sie:",
        "replied": "{agent} hat auf Ihre Anfrage {reference} bei {site} geantwortet:",
        "answer": "Antworten Sie einfach auf diese E-Mail (die Referenz im Betreff bitte stehen lassen), oder öffnen Sie die Hilfe auf unserer Website und wählen Sie „{my_requests}“:",
        "why": "Sie erhalten diese E-Mail, weil mit dieser Adresse eine Anfrage gestellt wurde.",
    },
    "fr": {
        "subject_new": "Nouvelle réponse à votre demande {reference}",
        "subject_re": "Re : Votre demande {reference}",
        "hello": "Bonjour,",
        "new_reply": "Votre demande {reference} sur {site} a reçu une nouvelle réponse.",
        "read_it": "Pour la lire, ouvrez le bouton d'aide de notre site et choisissez « {my_requests} », ou rendez-vous sur :",
        "replied": "{agent} a répondu à votre demande {reference} sur {site} :",
        "answer": "Répondez à cet e-mail pour continuer (gardez la référence dans l'objet), ou ouvrez le bouton d'aide de notre site et choisissez « {my_requests} » :",
        "why": "Vous recevez cet e-mail car une demande a été ouverte avec cette adresse.",
    },
    "pt": {
        "subject_new": "Nova resposta ao seu pedido {reference}",
        "subject_re": "Re: Seu pedido {reference}",
        "hello": "Olá,",
        "new_reply": "Há uma nova resposta ao seu pedido {reference} em {site}.",
        "read_it": "Para ler, abra o botão de ajuda do nosso site e escolha \"{my_requests}\", ou acesse:",
        "replied": "{agent} respondeu ao seu pedido {reference} em {site}:",
        "answer": "Responda a este e-mail para continuar (mantenha a referência no assunto), ou abra o botão de ajuda do nosso site e escolha \"{my_requests}\":",
        "why": "Você recebeu este e-mail porque um pedido foi aberto com este endereço.",
    },
    "it": {
        "subject_new": "Nuova risposta alla tua richiesta {reference}",
        "subject_re": "Re: La tua richiesta {reference}",
        "hello": "Ciao,",
        "new_reply": "C'è una nuova risposta alla tua richiesta {reference} su {site}.",
        "read_it": "Per leggerla, apri il pulsante di aiuto sul nostro sito e scegli «{my_requests}», oppure visita:",
        "replied": "{agent} ha risposto alla tua richiesta {reference} su {site}:",
        "answer": "Rispondi a questa email per continuare (lascia il riferimento nell'oggetto), oppure apri il pulsante di aiuto sul nostro sito e scegli «{my_requests}»:",
        "why": "Ricevi questa email perché è stata aperta una richiesta con questo indirizzo.",
    },
    "nl": {
        "subject_new": "Nieuw antwoord op je verzoek {reference}",
        "subject_re": "Re: Je verzoek {reference}",
        "hello": "Hallo,",
        "new_reply": "Er is een nieuw antwoord op je verzoek {reference} bij {site}.",
        "read_it": "Open de helpknop op onze site en kies \"{my_requests}\" om het te lezen, of ga naar:",
        "replied": "{agent} heeft je verzoek {reference} bij {site} beantwoord:",
        "answer": "Beantwoord deze e-mail om te reageren (laat de referentie in het onderwerp staan), of open de helpknop op onze site en kies \"{my_requests}\":",
        "why": "Je ontvangt dit omdat er met dit adres een verzoek is geopend.",
    },
    "pl": {
        "subject_new": "Nowa odpowiedź na Twoje zgłoszenie {reference}",
        "subject_re": "Re: Twoje zgłoszenie {reference}",
        "hello": "Dzień dobry,",
        "new_reply": "Na Twoje zgłoszenie {reference} w {site} jest nowa odpowiedź.",
        "read_it": "Aby ją przeczytać, otwórz przycisk pomocy na naszej stronie i wybierz „{my_requests}” albo wejdź na:",
        "replied": "{agent} odpowiada na Twoje zgłoszenie {reference} w {site}:",
        "answer": "Odpowiedz na tę wiadomość, aby odpisać (zostaw numer zgłoszenia w temacie), albo otwórz przycisk pomocy na naszej stronie i wybierz „{my_requests}”:",
        "why": "Otrzymujesz tę wiadomość, ponieważ z tego adresu otwarto zgłoszenie.",
    },
    "ar": {
        "subject_new": "رد جديد على طلبك {reference}",
        "subject_re": "رد: طلبك {reference}",
        "hello": "مرحبًا،",
        "new_reply": "يوجد رد جديد على طلبك {reference} لدى {site}.",
        "read_it": "لقراءته، افتح زر المساعدة في موقعنا واختر «{my_requests}»، أو زر:",
        "replied": "ردّ {agent} على طلبك {reference} لدى {site}:",
        "answer": "ردّ على هذه الرسالة للإجابة (مع إبقاء الرقم المرجعي في الموضوع)، أو افتح زر المساعدة في موقعنا واختر «{my_requests}»:",
        "why": "وصلتك هذه الرسالة لأن طلبًا فُتح بهذا العنوان.",
    },
    "ja": {
        "subject_new": "お問い合わせ {reference} に新しい返信があります",
        "subject_re": "Re: お問い合わせ {reference}",
        "hello": "こんにちは。",
        "new_reply": "{site} へのお問い合わせ {reference} に新しい返信があります。",
        "read_it": "サイトのヘルプボタンを開いて「{my_requests}」を選ぶか、次のページでご覧ください:",
        "replied": "{agent} が {site} へのお問い合わせ {reference} に返信しました:",
        "answer": "このメールに返信してお答えください（件名の受付番号はそのままにしてください）。サイトのヘルプボタンを開いて「{my_requests}」を選んでも返信できます:",
        "why": "このアドレスでお問い合わせがあったため、このメールをお送りしています。",
    },
    "zh": {
        "subject_new": "您的请求 {reference} 有新回复",
        "subject_re": "回复：您的请求 {reference}",
        "hello": "您好：",
        "new_reply": "您在 {site} 的请求 {reference} 有新回复。",
        "read_it": "要查看回复，请打开我们网站上的帮助按钮并选择“{my_requests}”，或访问：",
        "replied": "{agent} 回复了您在 {site} 的请求 {reference}：",
        "answer": "直接回复此邮件即可作答（请保留主题中的编号），也可以打开我们网站上的帮助按钮并选择“{my_requests}”：",
        "why": "您收到此邮件，是因为有人用此地址提交了请求。",
    },
}


def mail_text(locale: str | None, overrides: Mapping[str, Mapping[str, str]] | None = None
              ) -> dict[str, str]:
    """The fixed sentences of a visitor's email in the ticket's language (English when
    Deskbell has none in it), with `{my_requests}` already the panel's own words for it."""
    code = normalize(locale or "en")
    lang = code if code in MAIL else language(code)
    texts = MAIL.get(lang, MAIL["en"])
    button = strings(lang if lang in MAIL else "en", overrides)["my_requests"]
    return {key: text.replace("{my_requests}", button) for key, text in texts.items()}
