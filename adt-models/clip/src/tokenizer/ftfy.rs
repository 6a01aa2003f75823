//! The part of `ftfy.fix_text` (ftfy 6.3.1, default config) that the
//! transformers slow `CLIPTokenizer` applies to every prompt, ported step by step.
//!
//! Reproduced, in ftfy's order and with its fixed-point loop and per-line
//! segments: `unescape_html` (disabled from the first line containing `<` on,
//! as ftfy's "auto"), `fix_c1_controls`, `fix_latin_ligatures`,
//! `fix_character_width`, `uncurl_quotes`, `fix_line_breaks`,
//! `remove_terminal_escapes`, `remove_control_chars`, NFC.
//!
//! NOT reproduced: `fix_encoding` — ftfy's mojibake detection and repair (with
//! its `restore_byte_a0`, `replace_lossy_sequences`, `decode_inconsistent_utf8`
//! sub-steps), a heuristic built on large character-class tables. A prompt
//! that is itself mojibake therefore tokenizes differently: `"cafÃ© seÃ±or"`
//! → slow CLIPTokenizer ids `[49406, 15304, 43368, 541, 49407]` ("café señor"),
//! this port `[49406, 3471, 127, 352, 5811, 567, 127, 352, 126, 365, 541, 49407]`
//! (the ids of `"cafã© seã±or"`, as the slow tokenizer with `fix_encoding=False`; both
//! pinned by `tests/fixtures/tokenizer_goldens.json`). Ordinary text — any text
//! that is valid as typed — is unaffected. Also not needed: `fix_surrogates`
//! (Rust strings cannot hold surrogates) and the 1M-character segment cap.
//! `remove_terminal_escapes` accepts ASCII digits only in escape parameters
//! (Python's `\d` also takes other Unicode decimal digits).

use tokenizers::normalizers::unicode::NFC;
use tokenizers::{NormalizedString, Normalizer};

use super::ftfy_tables::{C1_AS_WINDOWS_1252, HTML_ENTITIES, HTML_INVALID_CHARREFS, WIDTH_MAP};

/// `ftfy.fix_text(text, fix_encoding=False)`.
pub fn fix_text(text: &str) -> String {
    let mut unescape = true;
    let mut out = String::with_capacity(text.len());
    for segment in text.split_inclusive('\n') {
        // ftfy.fix_text: the "auto" setting is switched off for this and all later segments.
        if unescape && segment.contains('<') {
            unescape = false;
        }
        out.push_str(&fix_segment(segment, unescape));
    }
    out
}

/// `ftfy.fix_and_explain` on one segment: apply the fixers until nothing changes.
fn fix_segment(segment: &str, unescape: bool) -> String {
    let mut text = segment.to_string();
    loop {
        let orig = text.clone();
        if unescape {
            text = unescape_html(&text);
        }
        text = text
            .chars()
            .map(|c| match c as u32 {
                0x80..=0x9f => C1_AS_WINDOWS_1252[c as usize - 0x80],
                _ => c,
            })
            .collect();
        text = text.chars().fold(String::new(), |mut s, c| {
            match ligature(c) {
                Some(r) => s.push_str(r),
                None => s.push(c),
            }
            s
        });
        text = text.chars().fold(String::new(), |mut s, c| {
            match WIDTH_MAP.binary_search_by_key(&c, |(k, _)| *k) {
                Ok(i) => s.push_str(WIDTH_MAP[i].1),
                Err(_) => s.push(c),
            }
            s
        });
        text = text
            .chars()
            .map(|c| match c {
                '\u{2018}'..='\u{201b}' | '\u{02bc}' => '\'',
                '\u{201c}'..='\u{201f}' => '"',
                _ => c,
            })
            .collect();
        text = text
            .replace("\r\n", "\n")
            .replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n");
        text = remove_terminal_escapes(&text);
        text.retain(|c| !is_removed_control(c));
        text = nfc(&text);
        if text == orig {
            return text;
        }
    }
}

/// ftfy `LIGATURES`: Latin ligatures and legacy digraphs split into letters.
fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return None,
    })
}

/// ftfy `CONTROL_CHARS`: controls other than tab/LF/FF/CR, DEL, deprecated
/// format characters, the BOM and interlinear annotation characters.
fn is_removed_control(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x08 | 0x0b | 0x0e..=0x1f | 0x7f | 0x206a..=0x206f | 0xfeff | 0xfff9..=0xfffc)
}

/// ftfy `ANSI_RE` = `\x1b\[((?:\d|;)*)([a-zA-Z])` removed.
fn remove_terminal_escapes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b';') {
                j += 1;
            }
            if j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                out.push_str(&text[copied..i]);
                i = j + 1;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// ftfy `unescape_html`: every match of `&#?[0-9A-Za-z]{1,24};` that is a
/// known entity, or a numeric reference CPython's `html.unescape` decodes
/// completely (to a text without `;`), is replaced.
fn unescape_html(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] == b'&'
            && let Some(end) = entity_end(bytes, i)
        {
            let entity = &text[i..end];
            if let Some(rep) = replace_entity(entity) {
                out.push_str(&text[copied..i]);
                out.push_str(&rep);
                copied = end;
            }
            // A match that is left as is is still consumed (regex `sub` semantics).
            i = end;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// End (exclusive) of a `&#?[0-9A-Za-z]{1,24};` match starting at `start`.
fn entity_end(bytes: &[u8], start: usize) -> Option<usize> {
    let run_end = |from: usize| {
        let mut j = from;
        while j < bytes.len() && bytes[j].is_ascii_alphanumeric() {
            j += 1;
        }
        let n = j - from;
        ((1..=24).contains(&n) && bytes.get(j) == Some(&b';')).then_some(j + 1)
    };
    if bytes.get(start + 1) == Some(&b'#')
        && let Some(end) = run_end(start + 2)
    {
        return Some(end);
    }
    run_end(start + 1)
}

/// ftfy `_unescape_fixup` for one matched `&…;`.
fn replace_entity(entity: &str) -> Option<String> {
    if let Ok(i) = HTML_ENTITIES.binary_search_by_key(&entity, |(k, _)| k) {
        return Some(HTML_ENTITIES[i].1.to_string());
    }
    let body = entity.strip_prefix("&#")?.strip_suffix(';')?;
    let (digits, radix) = match body.strip_prefix(['x', 'X']) {
        Some(hex) => (hex, 16),
        None => (body, 10),
    };
    // html.unescape decodes only a full run of digits; a partial decode leaves a `;`
    // behind, and ftfy then keeps the original text.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let num = u64::from_str_radix(digits, radix).unwrap_or(u64::MAX);
    let text = charref(num);
    (!text.contains(';')).then_some(text)
}

/// CPython `html._replace_charref` for a numeric reference.
fn charref(num: u64) -> String {
    if let Ok(n) = u32::try_from(num)
        && let Ok(i) = HTML_INVALID_CHARREFS.binary_search_by_key(&n, |(k, _)| *k)
    {
        return HTML_INVALID_CHARREFS[i].1.to_string();
    }
    if (0xd800..=0xdfff).contains(&num) || num > 0x10ffff {
        return "\u{fffd}".into();
    }
    let n = num as u32;
    let invalid = matches!(n, 0x1..=0x8 | 0xb | 0xe..=0x1f | 0x7f..=0x9f | 0xfdd0..=0xfdef)
        || (n & 0xfffe) == 0xfffe;
    if invalid {
        return String::new();
    }
    char::from_u32(n).map(String::from).unwrap_or_default()
}

fn nfc(text: &str) -> String {
    let mut n = NormalizedString::from(text);
    // NFC on a NormalizedString cannot fail.
    NFC.normalize(&mut n).expect("NFC normalisation");
    n.get().to_string()
}
