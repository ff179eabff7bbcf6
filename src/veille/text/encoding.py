"""Bytes to text, and text back to what its author wrote.

Two jobs, used by every stage that reads documents:
- `decode`: the HTTP header's charset, then the document's own declaration,
  then detection (charset-normalizer), never a crash;
- `repair`: mojibake repair with ftfy, plus one lossy case ftfy cannot undo
  because the information is gone: a text in which every curly quote and
  apostrophe became a lone Greek beta (seed 001: "youβre", "βblood mineralsβ").
"""

from __future__ import annotations

import codecs
import re

import ftfy
import webencodings
from charset_normalizer import from_bytes

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""", re.I)
_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""", re.I)

_BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                     (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_XML_STARTS = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
               (b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"), (b"\x4c\x6f\xa7\x94", "cp037"))
_NOT_CHARSETS = {"undefined", "punycode", "idna", "unicode-escape", "raw-unicode-escape", "unicode_escape",
                 "raw_unicode_escape", "mbcs", "oem", "palmos"}

# Greek letters other than beta: if a text has several, beta is Greek, not damage.
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_BETA = "\u03b2"
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
# Stateful 7-bit encodings that can spell markup in plain ASCII; browsers never guess them.
_SMUGGLING = re.compile(r"utf_?7|iso2022|hz", re.I)


_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1f\ufffd]")


def looks_binary(text: str) -> bool:
    """Decoded bytes that are not text (an image, an archive, random bytes): more than one character
    in twenty of the first 8 KB is a control character or a replacement for an undecodable byte."""
    sample = text[:8192]
    return len(_NOT_TEXT.findall(sample)) > len(sample) // 20


def looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head or b"<head" in head


def declared_charset(body: bytes) -> str | None:
    """The charset a document declares for itself (XML declaration or <meta>)."""
    head = body[:4096]
    match = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii").lower() if match else None


def decode(body: bytes, http_charset: str | None = None) -> str:
    """Bytes to text: the HTTP header's charset, then the document's own, then detection.

    A label that Python does not know, or that does not fit the bytes, passes to
    the next step instead of producing mojibake.
    """
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace")
    for mark, codec in _BYTE_ORDER_MARKS:  # UTF-32's marks first: FF FE 00 00 also starts like UTF-16's
        if body.startswith(mark):
            return body[len(mark):].decode(codec, errors="replace")
    for start, codec in _XML_STARTS:  # no mark, but "<?" in a wide or EBCDIC encoding (XML 1.0, appendix F)
        if body.startswith(start):
            return body.decode(codec, errors="replace")
    for label in (http_charset, declared_charset(body)):
        if not label:
            continue
        try:
            return _codec(label).decode(body, "strict")[0]
        except (LookupError, UnicodeError, ValueError):  # unknown, not for text, or not these bytes
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    encoding = _detect(body)
    return body.decode(encoding or "cp1252", errors="replace")


def _detect(body: bytes) -> str | None:
    """charset-normalizer's pick, except that among equally good candidates the
    Western one wins: short French or German text fits cp1250 as well as
    cp1252, and the feeds we read are far more often the latter."""
    matches = [m for m in from_bytes(body[:200_000]) if not _SMUGGLING.match(m.encoding)]
    if not matches:
        return None
    best = matches[0]
    for match in matches:
        if (match.encoding in _WESTERN and match.chaos <= best.chaos
                and match.coherence >= best.coherence - 0.01):
            return match.encoding
    return best.encoding


def drop_xml_encoding(text: str) -> str:
    """Remove the encoding= of an XML declaration, for text already decoded."""
    return _XML_DECL_ENCODING.sub(r"\1", text, count=1)


def _codec(label: str) -> codecs.CodecInfo:
    """The Python codec for a charset label, as browsers read labels: the WHATWG Encoding
    Standard's table (webencodings). LookupError for a label that is not in it ("utf-7",
    "undefined", "punycode"... are Python's names, not the web's: `charset=utf-7` would turn
    `+ADw-script+AD4-` into `<script>`) and for the "replacement" encoding, which the standard
    gives to ISO-2022-KR and kin for the same reason."""
    encoding = webencodings.lookup(label)
    if encoding is None or encoding.name == "replacement":
        raise LookupError(label)
    return encoding.codec_info


def repair(text: str) -> str:
    """Fix mojibake and the lost-quote damage; leave sound text unchanged."""
    # uncurl_quotes=False: typographic quotes are the author's, not damage; so is full-width
    # punctuation in Chinese and Japanese ("，" "。" "（" "："), which fix_character_width would
    # turn into ASCII (search and keys fold those forms themselves).
    text = ftfy.fix_text(text, normalization="NFC", unescape_html=False, uncurl_quotes=False,
                         fix_character_width=False)
    if _BETA in text:
        text = _restore_quotes(text)
    return text


_BETA_INSIDE_WORD = re.compile(r"(?<=\w)\u03b2(?=\w)")
_BETA_OPENING = re.compile(r"(?<![\w.,;:!?])\u03b2(?=\w)")
_BETA_CLOSING = re.compile(r"(?<=[\w.,;:!?)])\u03b2")


def _restore_quotes(text: str) -> str:
    # Only when beta stands where Latin text has quotes: between letters
    # ("itβs"), before a word after a space ("βblood"), after a word ("mineralsβ").
    if len(_GREEK.findall(text)) > text.count(_BETA):
        return text
    text = _BETA_INSIDE_WORD.sub("\u2019", text)
    text = _BETA_OPENING.sub("\u201c", text)
    text = _BETA_CLOSING.sub("\u201d", text)
    return text
