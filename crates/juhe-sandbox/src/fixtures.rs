//! The fixture table: which answer a pair gets.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use juhe_proto::{ErrorCode, IdCard, Mobile};

use crate::{Fault, SandboxError};

/// The answer for a pair: a verdict or an error code.
///
/// In files: `match`, `mismatch`, or a numeric error code such as `232904`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `res` 1.
    Match,
    /// `res` 2.
    Mismatch,
    /// This `error_code`.
    Error(ErrorCode),
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "match" | "1" => Ok(Outcome::Match),
            "mismatch" | "2" => Ok(Outcome::Mismatch),
            other => other
                .parse::<i32>()
                .map(|c| Outcome::Error(ErrorCode::from_code(c)))
                .map_err(|_| {
                    format!("unknown outcome {s:?}: expected match, mismatch or an error code")
                }),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Match => f.write_str("match"),
            Outcome::Mismatch => f.write_str("mismatch"),
            Outcome::Error(code) => write!(f, "{}", code.code()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(i32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Code(code) => Ok(Outcome::Error(ErrorCode::from_code(code))),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// One row of a fixtures file: `idcard`, `mobile`, `outcome`, and an optional `fault`
/// applied every time the pair is asked for.
#[derive(Debug, Clone, serde::Deserialize)]
#[non_exhaustive]
pub struct Fixture {
    /// The ID card number (validated and normalised on insert).
    pub idcard: String,
    /// The mobile number (validated and normalised on insert).
    pub mobile: String,
    /// The answer.
    pub outcome: Outcome,
    /// A fault for this pair.
    #[serde(default)]
    pub fault: Option<Fault>,
}

impl Fixture {
    /// A pair and its answer, with no fault.
    pub fn new(idcard: impl Into<String>, mobile: impl Into<String>, outcome: Outcome) -> Fixture {
        Fixture {
            idcard: idcard.into(),
            mobile: mobile.into(),
            outcome,
            fault: None,
        }
    }

    /// Applies `fault` every time the pair is asked for.
    pub fn with_fault(mut self, fault: Fault) -> Fixture {
        self.fault = Some(fault);
        self
    }
}

/// Pairs with fixed answers. Pairs are stored normalised, so `+86 130…` and `130…` match.
#[derive(Debug, Clone, Default)]
pub struct Fixtures {
    map: HashMap<(String, String), (Outcome, Option<Fault>)>,
}

impl Fixtures {
    /// An empty table.
    pub fn new() -> Fixtures {
        Fixtures::default()
    }

    /// Adds (or replaces) a pair. Both numbers must pass local validation: the sandbox
    /// validates before it looks up fixtures, so an invalid pair could never be answered.
    pub fn insert(&mut self, fixture: Fixture) -> Result<(), SandboxError> {
        let invalid = |problem: String| SandboxError::InvalidFile {
            what: "fixture".into(),
            problem,
            source: None,
        };
        let idcard = IdCard::parse(&fixture.idcard).map_err(|e| invalid(e.to_string()))?;
        let mobile = Mobile::parse(&fixture.mobile).map_err(|e| invalid(e.to_string()))?;
        self.map.insert(
            (
                idcard.as_unmasked_str().to_owned(),
                mobile.as_unmasked_str().to_owned(),
            ),
            (fixture.outcome, fixture.fault),
        );
        Ok(())
    }

    /// Adds a pair with an outcome (builder style).
    pub fn with(
        mut self,
        idcard: &str,
        mobile: &str,
        outcome: Outcome,
    ) -> Result<Fixtures, SandboxError> {
        self.insert(Fixture {
            idcard: idcard.into(),
            mobile: mobile.into(),
            outcome,
            fault: None,
        })?;
        Ok(self)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn get(&self, idcard: &IdCard, mobile: &Mobile) -> Option<(Outcome, Option<Fault>)> {
        self.map
            .get(&(
                idcard.as_unmasked_str().to_owned(),
                mobile.as_unmasked_str().to_owned(),
            ))
            .copied()
    }

    /// Merges another table into this one (the other wins on duplicates).
    pub fn extend(&mut self, other: Fixtures) {
        self.map.extend(other.map);
    }

    /// Parses CSV with a header naming `idcard`, `mobile`, `outcome` and optionally `fault`
    /// (a fault name such as `http500`, or `delay_ms:200`, `error_code:232905`).
    pub fn from_csv(text: &str) -> Result<Fixtures, SandboxError> {
        #[derive(serde::Deserialize)]
        struct Row {
            idcard: String,
            mobile: String,
            outcome: Outcome,
            #[serde(default)]
            fault: Option<String>,
        }
        let mut fixtures = Fixtures::new();
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        // An empty or foreign file must not pass as "no fixtures".
        let headers = reader.headers().map_err(|e| SandboxError::InvalidFile {
            what: "fixtures header".into(),
            problem: "expected a CSV header naming idcard, mobile, outcome[, fault]".into(),
            source: Some(Box::new(e)),
        })?;
        let missing: Vec<&str> = ["idcard", "mobile", "outcome"]
            .into_iter()
            .filter(|name| !headers.iter().any(|h| h == *name))
            .collect();
        if !missing.is_empty() {
            return Err(SandboxError::InvalidFile {
                what: "fixtures header".into(),
                problem: format!(
                    "missing column(s) {}; expected idcard, mobile, outcome[, fault]",
                    missing.join(", ")
                ),
                source: None,
            });
        }
        for (i, row) in reader.deserialize::<Row>().enumerate() {
            let line = i + 2;
            let row = row.map_err(|e| SandboxError::InvalidFile {
                what: format!("fixtures line {line}"),
                problem: "expected columns idcard, mobile, outcome[, fault]".into(),
                source: Some(Box::new(e)),
            })?;
            let fault = match row.fault.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(text) => {
                    Some(
                        parse_fault(text).map_err(|problem| SandboxError::InvalidFile {
                            what: format!("fixtures line {line}"),
                            problem,
                            source: None,
                        })?,
                    )
                }
            };
            fixtures
                .insert(Fixture {
                    idcard: row.idcard,
                    mobile: row.mobile,
                    outcome: row.outcome,
                    fault,
                })
                .map_err(|e| relabel(e, format!("fixtures line {line}")))?;
        }
        Ok(fixtures)
    }

    /// Parses a JSON array of `{"idcard", "mobile", "outcome", "fault"?}` objects.
    pub fn from_json(text: &str) -> Result<Fixtures, SandboxError> {
        let rows: Vec<Fixture> =
            serde_json::from_str(text).map_err(|e| SandboxError::InvalidFile {
                what: "fixtures".into(),
                problem: "expected a JSON array of {idcard, mobile, outcome, fault?}".into(),
                source: Some(Box::new(e)),
            })?;
        let mut fixtures = Fixtures::new();
        for (i, row) in rows.into_iter().enumerate() {
            fixtures
                .insert(row)
                .map_err(|e| relabel(e, format!("fixtures entry {}", i + 1)))?;
        }
        Ok(fixtures)
    }

    /// Reads a fixtures file: JSON when the name ends in `.json`, CSV otherwise.
    pub fn load(path: &Path) -> Result<Fixtures, SandboxError> {
        let (text, is_json) = crate::error::read_config_file(path, "json")?;
        if is_json {
            Fixtures::from_json(&text)
        } else {
            Fixtures::from_csv(&text)
        }
    }
}

fn relabel(error: SandboxError, what: String) -> SandboxError {
    match error {
        SandboxError::InvalidFile {
            problem, source, ..
        } => SandboxError::InvalidFile {
            what,
            problem,
            source,
        },
        other => other,
    }
}

fn parse_fault(text: &str) -> Result<Fault, String> {
    let json = match text.split_once(':') {
        Some((name, value)) => format!("{{\"{}\": {}}}", name.trim(), value.trim()),
        None => format!("\"{}\"", text.trim()),
    };
    serde_json::from_str(&json).map_err(|_| format!("unknown fault {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_agree() {
        let csv = "idcard,mobile,outcome,fault\n110105199003071239,+86 130 1234 5678,match,\n\
                   310104198511204567,13112345678,232905,delay_ms:5\n";
        let json = r#"[{"idcard":"110105199003071239","mobile":"13012345678","outcome":"match"},
                       {"idcard":"310104198511204567","mobile":"13112345678","outcome":232905,"fault":{"delay_ms":5}}]"#;
        let a = Fixtures::from_csv(csv).unwrap();
        let b = Fixtures::from_json(json).unwrap();
        assert_eq!(a.map, b.map);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn bad_rows_name_their_line() {
        let e = Fixtures::from_csv("sequence = [1]\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "fixtures header: missing column(s) idcard, mobile, outcome; expected idcard, mobile, outcome[, fault]"
        );
        assert!(
            Fixtures::from_csv("").is_err(),
            "an empty file is not a fixture table"
        );
        assert_eq!(
            Fixtures::from_csv("idcard,mobile,outcome\n").unwrap().len(),
            0
        );
        let e = Fixtures::from_csv("idcard,mobile,outcome\n110105199003071239,13012345678,maybe\n")
            .unwrap_err();
        assert!(e.to_string().starts_with("fixtures line 2"), "{e}");
        let e = Fixtures::from_csv("idcard,mobile,outcome\n110105199003071230,13012345678,match\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "fixtures line 2: ID card check digit should be 9, got 0"
        );
        let e = Fixtures::from_csv(
            "idcard,mobile,outcome,fault\n110105199003071239,13012345678,match,boom\n",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "fixtures line 2: unknown fault \"boom\"");
    }
}
