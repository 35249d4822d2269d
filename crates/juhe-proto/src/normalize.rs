//! Shared input folding: what users paste from spreadsheets and web forms.

/// Folds a full-width ASCII variant (U+FF01..=U+FF5E) to its ASCII form, and U+3000 to a space.
pub(crate) fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}
