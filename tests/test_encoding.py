from veille.text.encoding import decode, repair


def test_the_http_charset_wins():
    assert decode("Sécurité".encode("latin-1"), "iso-8859-1") == "Sécurité"


def test_the_document_declaration_comes_next():
    body = '<?xml version="1.0" encoding="ISO-8859-1"?><t>Nîmes</t>'.encode("latin-1")
    assert "Nîmes" in decode(body)
    html = '<html><head><meta charset="windows-1252"></head><body>“quoted”</body></html>'.encode("cp1252")
    assert "“quoted”" in decode(html)


def test_undeclared_latin1_is_detected_not_garbled():
    body = ("<rss><channel><title>Sécurité et vidéosurveillance à Nîmes : la préfecture "
            "déploie des caméras</title></channel></rss>").encode("latin-1")
    assert "Sécurité et vidéosurveillance à Nîmes" in decode(body)


def test_a_wrong_header_charset_falls_through_to_what_fits():
    assert decode("Zürich".encode("utf-8"), "no-such-charset") == "Zürich"


def test_mojibake_is_repaired_and_sound_text_left_alone():
    assert repair("Ã©tÃ© Ã  Nice") == "été à Nice"
    sound = "L’été à Nice, « la ville » — 10 €"
    assert repair(sound) == sound


def test_quotes_lost_as_beta_are_restored():
    assert repair("In case youβre unaware, βblood mineralsβ matter.") == (
        "In case you’re unaware, “blood minerals” matter."
    )


def test_real_greek_keeps_its_beta():
    greek = "Η βία της αστυνομίας και η βιομετρική παρακολούθηση"
    assert repair(greek) == greek


def test_utf7_is_not_a_web_charset_so_markup_cannot_be_smuggled_in():
    # Browsers follow the WHATWG Encoding Standard, which has no UTF-7: read as UTF-7,
    # "+ADw-script+AD4-" would become "<script>".
    page = b"<html><head><meta charset=utf-7></head><body>+ADw-script+AD4-alert(1)+ADw-/script+AD4-</body></html>"
    assert "<script>" not in decode(page)
    assert "<script>" not in decode(b"+ADw-script+AD4-", "utf-7")
    assert "<script>" not in decode(b"+ADw-script+AD4-", "iso-2022-kr")  # the standard's "replacement"


def test_charset_labels_are_read_as_browsers_read_them():
    assert decode("Sécurité".encode("cp1252"), "ascii") == "Sécurité"  # WHATWG: ascii is windows-1252
    assert decode("Привет мир".encode("koi8-r"), "KOI8-R") == "Привет мир"
    assert decode("日本語のテキスト".encode("shift_jis"), " Shift_JIS ") == "日本語のテキスト"
    assert decode("中文".encode("gbk"), "gb2312") == "中文"  # WHATWG: gb2312 is gbk
    assert decode("Ωμέγα".encode("cp1253"), "windows-1253") == "Ωμέγα"
