"""Words that name a country the data lists by its ISO 3166 code: "Germany", "German", "德国" name DE.

Country names come from the Unicode CLDR through Babel (English and Chinese, the languages the agent
answers in); the adjectives people use for a country's users ("German reviewers", "French customers")
are not in CLDR and are listed here for the common ones. The generated layer gives a country dimension
these words as value aliases (``Dimension.aliases``), so a question naming a country links to its code.
"""

from __future__ import annotations

import re
from functools import cache

_ADJECTIVES = {
    "US": ["American", "Americans", "USA", "U.S.", "America"],
    "GB": ["British", "UK", "U.K.", "Britain"],
    "DE": ["German", "Germans"],
    "FR": ["French"],
    "ES": ["Spanish", "Spaniards"],
    "IT": ["Italian", "Italians"],
    "CA": ["Canadian", "Canadians"],
    "BR": ["Brazilian", "Brazilians"],
    "MX": ["Mexican", "Mexicans"],
    "AR": ["Argentine", "Argentinian", "Argentinians"],
    "CN": ["Chinese"],
    "JP": ["Japanese"],
    "KR": ["Korean", "Koreans", "Korea"],
    "IN": ["Indian", "Indians"],
    "AU": ["Australian", "Australians"],
    "NZ": ["New Zealander", "New Zealanders", "Kiwi", "Kiwis"],
    "NL": ["Dutch", "Holland"],
    "BE": ["Belgian", "Belgians"],
    "CH": ["Swiss"],
    "AT": ["Austrian", "Austrians"],
    "SE": ["Swedish", "Swedes"],
    "NO": ["Norwegian", "Norwegians"],
    "DK": ["Danish", "Danes"],
    "FI": ["Finnish", "Finns"],
    "IE": ["Irish"],
    "PT": ["Portuguese"],
    "PL": ["Polish", "Poles"],
    "CZ": ["Czech", "Czechs"],
    "GR": ["Greek", "Greeks"],
    "TR": ["Turkish", "Turks"],
    "RU": ["Russian", "Russians"],
    "UA": ["Ukrainian", "Ukrainians"],
    "IL": ["Israeli", "Israelis"],
    "SA": ["Saudi", "Saudis"],
    "AE": ["Emirati", "Emiratis", "UAE"],
    "EG": ["Egyptian", "Egyptians"],
    "ZA": ["South African", "South Africans"],
    "NG": ["Nigerian", "Nigerians"],
    "KE": ["Kenyan", "Kenyans"],
    "SG": ["Singaporean", "Singaporeans"],
    "MY": ["Malaysian", "Malaysians"],
    "ID": ["Indonesian", "Indonesians"],
    "TH": ["Thai"],
    "VN": ["Vietnamese"],
    "PH": ["Filipino", "Filipinos"],
    "TW": ["Taiwanese"],
    "HK": ["Hong Konger", "Hong Kongers"],
    "CL": ["Chilean", "Chileans"],
    "CO": ["Colombian", "Colombians"],
    "PE": ["Peruvian", "Peruvians"],
}
_CODE = re.compile(r"^[A-Z]{2}$")


@cache
def _names(language: str) -> dict[str, str]:
    from babel import Locale

    return {code: name for code, name in Locale.parse(language).territories.items() if _CODE.match(code)}


def country_aliases(values: list[str]) -> dict[str, list[str]]:
    """Words naming each of ``values`` when every value is an ISO 3166 alpha-2 code (else none): the
    English and Chinese names, and the adjectives for the common countries."""
    english, chinese = _names("en"), _names("zh")
    if not values or not all(v in english for v in values):
        return {}
    return {v: list(dict.fromkeys([english[v], chinese.get(v, english[v]), *_ADJECTIVES.get(v, [])])) for v in values}


def country_names(code: str) -> list[str]:
    """The English and Chinese names of the country with ISO 3166 alpha-2 ``code`` (none when unknown)."""
    english, chinese = _names("en"), _names("zh")
    return [n for n in (english.get(code), chinese.get(code)) if n]
