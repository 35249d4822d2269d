//! Agreement with 3,000 pairs labelled by independent tools (python-stdnum, libphonenumber).

use juhe_proto::{Carrier, IdCard, Mobile};

#[derive(serde::Deserialize)]
struct Row {
    idcard: String,
    mobile: String,
    idcard_valid: bool,
    mobile_valid: bool,
    carrier: Carrier,
}

#[test]
fn agrees_with_every_labelled_pair() {
    let data = include_str!("data/validation.jsonl");
    // The labels were made before this date; fixing it keeps "not in the future" reproducible.
    let labelled_on =
        juhe_proto::time::Date::from_calendar_date(2026, juhe_proto::time::Month::November, 29)
            .unwrap();
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for (n, line) in data.lines().enumerate() {
        let row: Row = serde_json::from_str(line).expect("valid JSONL");
        let id = IdCard::parse_on(&row.idcard, labelled_on);
        if id.is_ok() != row.idcard_valid {
            disagreements.push(format!(
                "line {}: idcard {:?} -> {:?}",
                n + 1,
                row.idcard,
                id.err()
            ));
        }
        match Mobile::parse(&row.mobile) {
            Ok(m) if !row.mobile_valid || m.carrier() != row.carrier => {
                disagreements.push(format!(
                    "line {}: mobile {:?} -> valid, {}; expected valid={} {}",
                    n + 1,
                    row.mobile,
                    m.carrier(),
                    row.mobile_valid,
                    row.carrier
                ))
            }
            Err(e) if row.mobile_valid => {
                disagreements.push(format!("line {}: mobile {:?} -> {e}", n + 1, row.mobile))
            }
            _ => {}
        }
        checked += 1;
    }
    assert_eq!(checked, 3000);
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
