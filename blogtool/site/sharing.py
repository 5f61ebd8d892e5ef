"""What a shared link shows: Open Graph and Twitter card values, and JSON-LD for search engines
(``BlogPosting`` for posts and tips). The templates put them in the page's head."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from blogtool.config import Config
from blogtool.content.model import Item
from blogtool.site.urls import Urls

# og:locale wants language_TERRITORY; the site's language says only the first half.
_TERRITORY = {"sv": "sv_SE", "en": "en_GB", "fi": "fi_FI", "nb": "nb_NO", "da": "da_DK"}


def og_locale(language: str) -> str:
    return _TERRITORY.get(language, language.replace("-", "_"))


def json_ld(
    config: Config, urls: Urls, item: Item, description: str, image: dict[str, Any] | None
) -> Markup:
    """A ``BlogPosting`` for one post or tip, ready to sit inside a script element (``<`` is
    escaped, so no text of the item can end the element)."""
    author = item.author or config.site.author or config.site.title
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": item.title,
        "description": description,
        "url": urls.absolute(urls.item(item)),
        "mainEntityOfPage": urls.absolute(urls.item(item)),
        "inLanguage": config.site.language,
        "author": {"@type": "Person", "name": author},
        "publisher": {
            "@type": "Organization",
            "name": config.site.title,
            "url": config.site.base_url,
        },
    }
    if item.date is not None:
        data["datePublished"] = item.date.isoformat()
        data["dateModified"] = item.date.isoformat()
    if item.tags:
        data["keywords"] = list(item.tags)
    if image is not None:
        data["image"] = {
            "@type": "ImageObject",
            "url": image["url"],
            "width": image["width"],
            "height": image["height"],
        }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))  # the C encoder
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
