//! `fix_text`: ftfy's HTML-entity, width, ligature, control and escape fixes, as the CLIP tokenizer applies them.

use adt_clip::tokenizer::ftfy::*;

#[test]
fn html_entities_follow_ftfy() {
    assert_eq!(
        fix_text("fish &amp; chips &AMP; &eacute;"),
        "fish & chips & é"
    );
    assert_eq!(fix_text("&#39;x&#x2019;"), "'x'"); // the curly quote is uncurled too
    assert_eq!(
        fix_text("&#59; &#12ab; &nosuchentity;"),
        "&#59; &#12ab; &nosuchentity;"
    );
    assert_eq!(fix_text("&#0;|&#128;|&#1;"), "\u{fffd}|€|");
    assert_eq!(fix_text("&amp; <b>"), "&amp; <b>");
    assert_eq!(fix_text("a &amp;\nb <\nc &amp;"), "a &\nb <\nc &amp;");
}

#[test]
fn width_ligatures_controls_escapes() {
    assert_eq!(fix_text("ＬＯＵＤ\u{3000}ＮＯＩＳＥＳ"), "LOUD NOISES");
    assert_eq!(fix_text("ﬂubberiﬁc"), "flubberific");
    assert_eq!(fix_text("a\u{7}b\u{1b}[31mc\u{1b}[0m\u{feff}"), "abc");
    assert_eq!(fix_text("\u{93}q\u{94} x\r\ny"), "\"q\" x\ny");
    assert_eq!(fix_text("cafe\u{301}"), "café");
}
