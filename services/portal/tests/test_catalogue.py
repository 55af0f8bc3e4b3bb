"""Every text of the portal is in its message catalogue, and a catalogue translates the pages."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from services.portal.entrypoints import i18n

PORTAL = Path(i18n.__file__).resolve().parent.parent
TEMPLATES = PORTAL / "templates"


def untranslated(source: str) -> list[str]:
    """Words of a template outside its trans blocks and expressions: text no catalogue holds."""
    text = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", source, flags=re.S)
    text = re.sub(r"{#.*?#}|{%.*?%}", " ", text, flags=re.S)
    text = re.sub(r"{{.*?}}", "0", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    found = [
        f'"{value}"'
        for value in re.findall(r'\b(?:aria-label|title|placeholder|alt)="([^"]*)"', text)
        if re.search(r"[A-Za-z]{2}", value)
    ]
    text = re.sub(r"<[^>]*>", "\n", text, flags=re.S)
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    return found + [ln.strip() for ln in text.splitlines() if re.search(r"[A-Za-z]{2}", ln)]


def test_every_text_of_every_page_is_in_a_trans_block() -> None:
    left = {
        p.name: found for p in TEMPLATES.glob("*.html") if (found := untranslated(p.read_text()))
    }
    assert left == {}
    assert untranslated("<p>{{ x }} Hello</p>") == ["0 Hello"]  # the check can fail


def test_the_catalogue_template_holds_every_text_the_portal_has() -> None:
    """`make messages` after changing a text: a translator never starts from a stale one."""
    method_map = [("tests/**", "ignore"), ("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    keywords = {"tr": None, "N_": None, "_": None, "gettext": None, "ngettext": (1, 2)}
    found = {m[2] for m in extract_from_dir(PORTAL, method_map, options, keywords=keywords)}
    with (i18n.LOCALE / "messages.pot").open("rb") as handle:
        kept = {m.id for m in read_po(handle) if m.id}
    assert found == kept, (found - kept, kept - found)
    assert "Register my company" in kept and "wrong email or password" in kept


def test_a_regions_catalogue_translates_the_pages_and_the_portals_own_messages(
    tmp_path: Path,
) -> None:
    po = tmp_path / "et" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Sign in"\nmsgstr "Logi sisse"\n\n'
        'msgid "wrong email or password"\nmsgstr "vale e-post või parool"\n',
        encoding="utf-8",
    )
    estonian = i18n.Languages(tmp_path).named("et")
    assert estonian is not None
    env = i18n.environment(TEMPLATES)
    with i18n.speaking(estonian):
        page = env.get_template("signin.html").render(
            region="tallinn",
            csrf="c",
            next="/",
            error="wrong email or password",
            person=None,
            demo=False,
        )
    assert "<h1>Logi sisse</h1>" in page and "vale e-post või parool" in page
    assert "Forgotten your password?" in page  # untranslated texts stay English
    assert isinstance(i18n.translations("en", tmp_path), type(i18n.translations("xx", tmp_path)))
