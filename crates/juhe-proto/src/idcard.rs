//! `IdCard`: a validated 18-character resident identity card number (GB 11643-1999).

use std::fmt;

use time::{Date, Month, OffsetDateTime, UtcOffset};

use crate::normalize::fold_width;
use crate::{BirthDateProblem, Field, ValidationError};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// Province-level codes of GB/T 2260 (mainland, 71 Taiwan, 81 Hong Kong, 82 Macao) plus 83,
/// used by residence permits for Taiwan residents. County codes are deliberately not judged:
/// real numbers carry codes retired long ago.
const PROVINCES: [u8; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

/// A validated 18-character ID card number (`[0-9]{17}[0-9X]`, valid check digit, real birth
/// date, known province).
///
/// `Debug` and `Display` print the masked form; the full number is reachable only through
/// [`IdCard::as_unmasked_str`].
///
/// ```
/// use juhe_proto::{Gender, IdCard};
///
/// let id = IdCard::parse("１１０１０５１９４９１２３１００２ｘ")?; // full-width input is folded
/// assert_eq!(id.to_string(), "110105********002X");
/// assert_eq!(id.birth_date().year(), 1949);
/// assert_eq!(id.gender(), Gender::Female); // 17th digit 2 is even
/// assert_eq!(id.region_code(), "110105");
/// assert!(IdCard::parse("110105194912310021").is_err()); // wrong check digit
/// # Ok::<(), juhe_proto::ValidationError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdCard(String);

/// Gender encoded in the 17th digit (odd: male, even: female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Odd 17th digit.
    Male,
    /// Even 17th digit.
    Female,
}

impl IdCard {
    /// Completes 17 ASCII digits with their GB 11643 check digit (ISO 7064 MOD 11-2): the one
    /// generator of valid-looking ID numbers for test data, fixtures and benchmarks. `None`
    /// unless given exactly 17 ASCII digits. The result still needs [`IdCard::parse`] to be a
    /// real number (region, date).
    ///
    /// ```
    /// use juhe_proto::IdCard;
    /// assert_eq!(IdCard::with_check_digit("11010519900307123").as_deref(), Some("110105199003071239"));
    /// assert_eq!(IdCard::with_check_digit("1101051990030712"), None);
    /// ```
    pub fn with_check_digit(first17: &str) -> Option<String> {
        let bytes = first17.as_bytes();
        if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut id = String::with_capacity(18);
        id.push_str(first17);
        id.push(char::from(check_digit(bytes)));
        Some(id)
    }

    /// Parses and validates an ID card number, judging "in the future" against today in China
    /// Standard Time (UTC+8).
    ///
    /// Trims whitespace (Unicode too), folds full-width digits and `x`/`ｘ`/`Ｘ` to `X`.
    pub fn parse(input: &str) -> Result<IdCard, ValidationError> {
        IdCard::parse_on(input, today_in_china())
    }

    /// Like [`IdCard::parse`], with an explicit "today" (for reproducible tests).
    pub fn parse_on(input: &str, today: Date) -> Result<IdCard, ValidationError> {
        let normalized = normalize(input);
        let len = normalized.chars().count();
        if len == 0 {
            return Err(ValidationError::Empty {
                field: Field::IdCard,
            });
        }
        if len == 15 && normalized.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::LegacyIdCard);
        }
        if len != 18 {
            return Err(ValidationError::Length {
                field: Field::IdCard,
                expected: 18,
                found: len,
            });
        }
        for (i, c) in normalized.chars().enumerate() {
            let ok = c.is_ascii_digit() || (i == 17 && c == 'X');
            if !ok {
                let expected = if i == 17 { "a digit or X" } else { "a digit" };
                return Err(ValidationError::Character {
                    field: Field::IdCard,
                    position: i + 1,
                    expected,
                });
            }
        }
        let bytes = normalized.as_bytes();
        let province = (bytes[0] - b'0') * 10 + (bytes[1] - b'0');
        if !PROVINCES.contains(&province) {
            return Err(ValidationError::Province { code: province });
        }
        let birth = birth_date_of(bytes)?;
        if birth.year() < 1900 {
            return Err(ValidationError::BirthDate {
                problem: BirthDateProblem::Before1900,
            });
        }
        if birth > today {
            return Err(ValidationError::BirthDate {
                problem: BirthDateProblem::InTheFuture,
            });
        }
        let expected = check_digit(&bytes[..17]);
        if bytes[17] != expected {
            return Err(ValidationError::CheckDigit {
                expected: expected as char,
                found: bytes[17] as char,
            });
        }
        Ok(IdCard(normalized))
    }

    /// Converts a 15-digit first-generation number (`RRRRRR YYMMDD SSS`, born 19YY) to the
    /// 18-digit form: inserts the century `19` and appends the computed check digit, then
    /// validates the result like [`IdCard::parse`].
    ///
    /// ```
    /// use juhe_proto::IdCard;
    /// let id = IdCard::from_legacy_15("110105491231002")?;
    /// assert_eq!(id.as_unmasked_str(), "11010519491231002X");
    /// # Ok::<(), juhe_proto::ValidationError>(())
    /// ```
    pub fn from_legacy_15(input: &str) -> Result<IdCard, ValidationError> {
        let normalized = normalize(input);
        let len = normalized.chars().count();
        if len == 0 {
            return Err(ValidationError::Empty {
                field: Field::IdCard,
            });
        }
        if len != 15 {
            return Err(ValidationError::Length {
                field: Field::IdCard,
                expected: 15,
                found: len,
            });
        }
        if let Some(i) = normalized.chars().position(|c| !c.is_ascii_digit()) {
            return Err(ValidationError::Character {
                field: Field::IdCard,
                position: i + 1,
                expected: "a digit",
            });
        }
        let mut full = String::with_capacity(18);
        full.push_str(&normalized[..6]);
        full.push_str("19");
        full.push_str(&normalized[6..]);
        full.push(check_digit(full.as_bytes()) as char);
        IdCard::parse(&full)
    }

    /// The full, unmasked 18-character number. Named loudly on purpose: use it to send the
    /// number, never to log it.
    pub fn as_unmasked_str(&self) -> &str {
        &self.0
    }

    /// The masked form `110101********1234`: the 6-digit region code and the last 4 characters.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }

    /// The birth date (digits 7–14).
    pub fn birth_date(&self) -> Date {
        birth_date_of(self.0.as_bytes()).expect("validated at parse")
    }

    /// The gender encoded in the 17th digit.
    pub fn gender(&self) -> Gender {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// The 6-digit administrative region code at issue (GB/T 2260; may be a retired code).
    pub fn region_code(&self) -> &str {
        &self.0[..6]
    }

    /// The 2-digit province code.
    pub fn province_code(&self) -> u8 {
        let b = self.0.as_bytes();
        (b[0] - b'0') * 10 + (b[1] - b'0')
    }
}

impl fmt::Debug for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdCard").field(&self.masked()).finish()
    }
}

impl fmt::Display for IdCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl std::str::FromStr for IdCard {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdCard::parse(s)
    }
}

fn normalize(input: &str) -> String {
    let input = input.trim();
    // One allocation of the final size (folding never lengthens): `collect` would grow it.
    let mut out = String::with_capacity(input.len());
    out.extend(
        input
            .chars()
            .map(fold_width)
            .map(|c| if c == 'x' { 'X' } else { c }),
    );
    out
}

/// ISO 7064 MOD 11-2 over the first 17 ASCII digits.
fn check_digit(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

fn digits(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
}

fn birth_date_of(bytes: &[u8]) -> Result<Date, ValidationError> {
    let not_a_date = ValidationError::BirthDate {
        problem: BirthDateProblem::NotACalendarDate,
    };
    let year = digits(&bytes[6..10]) as i32;
    let month = Month::try_from(digits(&bytes[10..12]) as u8).map_err(|_| not_a_date)?;
    let day = digits(&bytes[12..14]) as u8;
    Date::from_calendar_date(year, month, day).map_err(|_| ValidationError::BirthDate {
        problem: BirthDateProblem::NotACalendarDate,
    })
}

fn today_in_china() -> Date {
    let cst = UtcOffset::from_hms(8, 0, 0).expect("+08:00 is a valid offset");
    OffsetDateTime::now_utc().to_offset(cst).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u8, d: u8) -> Date {
        Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap()
    }

    #[test]
    fn errors_name_the_problem() {
        let today = day(2026, 11, 29);
        let e = IdCard::parse_on("110105194912310021", today).unwrap_err();
        assert_eq!(e.to_string(), "ID card check digit should be X, got 1");
        assert!(matches!(
            IdCard::parse_on("", today),
            Err(ValidationError::Empty { .. })
        ));
        assert!(matches!(
            IdCard::parse_on("110105491231002", today),
            Err(ValidationError::LegacyIdCard)
        ));
        assert!(matches!(
            IdCard::parse_on("11010519491231002", today),
            Err(ValidationError::Length { found: 17, .. })
        ));
        assert!(matches!(
            IdCard::parse_on("1101051949123100A2", today),
            Err(ValidationError::Character { position: 17, .. })
        ));
        assert!(matches!(
            IdCard::parse_on("910105194912310023", today),
            Err(ValidationError::Province { code: 91 })
        ));
        assert!(matches!(
            IdCard::parse_on("110105194902300020", today),
            Err(ValidationError::BirthDate {
                problem: BirthDateProblem::NotACalendarDate
            })
        ));
        assert!(matches!(
            IdCard::parse_on("110105189912310020", today),
            Err(ValidationError::BirthDate {
                problem: BirthDateProblem::Before1900
            })
        ));
    }

    #[test]
    fn future_birth_dates_are_judged_against_today() {
        let mut s = String::from("11010520261130002");
        s.push(check_digit(s.as_bytes()) as char);
        assert!(matches!(
            IdCard::parse_on(&s, day(2026, 11, 29)),
            Err(ValidationError::BirthDate {
                problem: BirthDateProblem::InTheFuture
            })
        ));
        assert!(IdCard::parse_on(&s, day(2026, 11, 30)).is_ok());
    }

    #[test]
    fn accessors() {
        let id = IdCard::parse("11010519491231002X").unwrap();
        assert_eq!(id.birth_date(), day(1949, 12, 31));
        assert_eq!(id.province_code(), 11);
        assert_eq!(format!("{id:?}"), "IdCard(\"110105********002X\")");
        let female = IdCard::parse("110105194912310046");
        assert_eq!(female.map(|i| i.gender()).ok(), Some(Gender::Female));
    }

    #[test]
    fn legacy_conversion() {
        assert!(matches!(
            IdCard::from_legacy_15("11010549123100"),
            Err(ValidationError::Length { .. })
        ));
        assert!(matches!(
            IdCard::from_legacy_15("11010549123100a"),
            Err(ValidationError::Character { .. })
        ));
        assert!(matches!(
            IdCard::from_legacy_15("110105491331002"),
            Err(ValidationError::BirthDate { .. })
        ));
    }
}
