//! "The same pair": the one definition every de-duplication uses.

use std::fmt;

use crate::{IdCard, Mobile};

/// A validated (ID card, mobile) pair as the bytes that identify it: **the** definition of
/// "the same pair".
///
/// Two checks are the same check, and must be billed once, exactly when their pairs have equal
/// [`PairIdentity::parts`]. The bytes are the normalised numbers ([`IdCard::as_unmasked_str`]:
/// 18 characters, upper-case `X`, full-width folded; [`Mobile::as_unmasked_str`]: 11 digits,
/// no country prefix or separators) joined by [`PairIdentity::SEPARATOR`], so every spelling a
/// user can paste (`130 0000 0000`, `+8613000000000`, a lower-case `x`, full-width digits)
/// yields the same bytes. Anything that recognises a repeated pair (a batch's de-duplication
/// and journal, a fleet's shared store) hashes or MACs these bytes, never the raw input text.
///
/// `Debug` prints the masked numbers only.
///
/// ```
/// use juhe_proto::{IdCard, Mobile, PairIdentity};
///
/// let (a_id, a_m) = (IdCard::parse("11010519491231002x")?, Mobile::parse("+86 130-0000-0000")?);
/// let (b_id, b_m) = (IdCard::parse("11010519491231002X")?, Mobile::parse("13000000000")?);
/// assert_eq!(PairIdentity::new(&a_id, &a_m), PairIdentity::new(&b_id, &b_m));
/// assert_eq!(PairIdentity::new(&a_id, &a_m).to_bytes(), b"11010519491231002X\x1f13000000000");
/// # Ok::<(), juhe_proto::ValidationError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PairIdentity<'a> {
    idcard: &'a IdCard,
    mobile: &'a Mobile,
}

impl<'a> PairIdentity<'a> {
    /// The byte between the two numbers (ASCII unit separator): never part of a validated
    /// number, so the joined bytes cannot be read two ways.
    pub const SEPARATOR: u8 = 0x1f;

    /// The identity of a validated pair.
    pub fn new(idcard: &'a IdCard, mobile: &'a Mobile) -> PairIdentity<'a> {
        PairIdentity { idcard, mobile }
    }

    /// The canonical bytes in three parts (ID card, separator, mobile): feed them in this
    /// order to a hash or MAC, with no allocation.
    pub fn parts(&self) -> [&'a [u8]; 3] {
        [
            self.idcard.as_unmasked_str().as_bytes(),
            std::slice::from_ref(&Self::SEPARATOR),
            self.mobile.as_unmasked_str().as_bytes(),
        ]
    }

    /// The canonical bytes in one buffer. Holds both full numbers: hash it, never log it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.parts().concat()
    }
}

impl fmt::Debug for PairIdentity<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairIdentity")
            .field("idcard", &self.idcard.masked())
            .field("mobile", &self.mobile.masked())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(idcard: &str, mobile: &str) -> Vec<u8> {
        let (i, m) = (
            IdCard::parse(idcard).unwrap(),
            Mobile::parse(mobile).unwrap(),
        );
        PairIdentity::new(&i, &m).to_bytes()
    }

    #[test]
    fn every_spelling_of_a_pair_is_one_identity() {
        let plain = bytes("11010519491231002X", "13000000000");
        for (idcard, mobile) in [
            ("11010519491231002x", "130 0000 0000"),
            (" 11010519491231002X ", "+8613000000000"),
            (
                "１１０１０５１９４９１２３１００２ｘ",
                "０086-130-0000-0000",
            ),
            ("11010519491231002Ｘ", "8613000000000"),
            ("11010519491231002X", "130\u{2010}0000\u{2010}0000"),
        ] {
            assert_eq!(bytes(idcard, mobile), plain, "{idcard} {mobile}");
        }
        assert_eq!(plain, b"11010519491231002X\x1f13000000000");
        assert_ne!(bytes("11010519491231002X", "13000000001"), plain);
    }

    #[test]
    fn debug_is_masked() {
        let (i, m) = (
            IdCard::parse("11010519491231002X").unwrap(),
            Mobile::parse("13012345678").unwrap(),
        );
        let text = format!("{:?}", PairIdentity::new(&i, &m));
        assert!(
            !text.contains("19491231") && !text.contains("12345678"),
            "{text}"
        );
        assert!(text.contains("110105********002X") && text.contains("130****5678"));
    }
}
