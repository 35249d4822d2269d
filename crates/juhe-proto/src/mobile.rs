//! `Mobile`: a validated mainland China mobile number.

use std::fmt;

use crate::normalize::fold_width;
use crate::{Carrier, Field, ValidationError};

/// A validated 11-digit mainland mobile number (`1[3-9]` + 9 digits).
///
/// `Debug` and `Display` print the masked form `138****8000`; the full number is reachable only
/// through [`Mobile::as_unmasked_str`].
///
/// ```
/// use juhe_proto::{Carrier, Mobile};
///
/// let m = Mobile::parse("0086 186-1234-5678")?;
/// assert_eq!(m.to_string(), "186****5678");
/// assert_eq!(m.carrier(), Carrier::Unicom);
/// assert!(Mobile::parse("1381234567a").is_err()); // letters are not keypad digits
/// # Ok::<(), juhe_proto::ValidationError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mobile(String);

impl Mobile {
    /// Parses and validates a mobile number.
    ///
    /// Trims whitespace, folds full-width characters, removes spaces and dashes, strips a
    /// `+86`, `0086` or (before 11 more digits) `86` country prefix.
    pub fn parse(input: &str) -> Result<Mobile, ValidationError> {
        // One allocation of the final size (folding never lengthens): `collect` would grow it.
        let mut folded = String::with_capacity(input.len());
        folded.extend(
            input
                .chars()
                .map(fold_width)
                .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '\u{2010}'..='\u{2015}')),
        );
        if folded.is_empty() {
            return Err(ValidationError::Empty {
                field: Field::Mobile,
            });
        }
        let national = if let Some(rest) = folded.strip_prefix("+86") {
            rest
        } else if let Some(rest) = folded.strip_prefix("0086") {
            rest
        } else if folded.len() == 13 && folded.starts_with("86") {
            &folded[2..]
        } else {
            &folded
        };
        if let Some(i) = national.chars().position(|c| !c.is_ascii_digit()) {
            return Err(ValidationError::Character {
                field: Field::Mobile,
                position: i + 1,
                expected: "a digit",
            });
        }
        if national.len() != 11 {
            return Err(ValidationError::Length {
                field: Field::Mobile,
                expected: 11,
                found: national.len(),
            });
        }
        let b = national.as_bytes();
        if b[0] != b'1' || !(b'3'..=b'9').contains(&b[1]) {
            return Err(ValidationError::MobilePrefix {
                prefix: national[..2].to_owned(),
            });
        }
        Ok(Mobile(national.to_owned()))
    }

    /// The carrier the number's segment was allocated to. Advice only: numbers can be ported.
    pub fn carrier(&self) -> Carrier {
        Carrier::of_number(&self.0)
    }

    /// The full, unmasked 11 digits. Use it to send the number, never to log it.
    pub fn as_unmasked_str(&self) -> &str {
        &self.0
    }

    /// The masked form `138****8000`: the first 3 and the last 4 digits.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Debug for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Mobile").field(&self.masked()).finish()
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl std::str::FromStr for Mobile {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mobile::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_separators() {
        for s in [
            "13012345678",
            "+8613012345678",
            "008613012345678",
            "8613012345678",
            "130 1234 5678",
            "130-1234-5678",
            "＋８６１３０１２３４５６７８",
        ] {
            assert_eq!(
                Mobile::parse(s).unwrap().as_unmasked_str(),
                "13012345678",
                "{s}"
            );
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(
            Mobile::parse("  "),
            Err(ValidationError::Empty { .. })
        ));
        assert!(matches!(
            Mobile::parse("1301234567"),
            Err(ValidationError::Length { found: 10, .. })
        ));
        assert!(matches!(
            Mobile::parse("1301234567b"),
            Err(ValidationError::Character { position: 11, .. })
        ));
        let e = Mobile::parse("12012345678").unwrap_err();
        assert_eq!(
            e.to_string(),
            "mobile number must start with 13 to 19, got 12"
        );
    }
}
