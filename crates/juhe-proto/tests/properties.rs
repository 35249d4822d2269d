//! Property tests: no input panics, masks reveal only what they document, forms round-trip.

use juhe_proto::{Endpoint, IdCard, Method, Mobile, QueryParams, build_request};
use proptest::prelude::*;

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn valid_idcard() -> impl Strategy<Value = String> {
    // Region 110105, birth 1900..2020, any sequence: fix the check digit after.
    (1900u32..2020, 1u32..=12, 1u32..=28, 0u32..1000).prop_map(|(y, m, d, seq)| {
        IdCard::with_check_digit(&format!("110105{y:04}{m:02}{d:02}{seq:03}")).unwrap()
    })
}

proptest! {


    #[test]
    fn idcard_mask_shows_ten_characters_at_most(s in valid_idcard()) {
        let id = IdCard::parse(&s).unwrap();
        let masked = id.masked();
        prop_assert_eq!(masked.chars().filter(|c| *c != '*').count(), 10);
        prop_assert_eq!(&masked[..6], &s[..6]);
        prop_assert_eq!(&masked[14..], &s[14..]);
        let shown = format!("{id:?}{id}");
        prop_assert!(!shown.contains(&s[6..14]));
    }

    #[test]
    fn mobile_mask_shows_seven_digits_at_most(s in "1[3-9][0-9]{9}") {
        let m = Mobile::parse(&s).unwrap();
        let masked = m.masked();
        prop_assert_eq!(masked.chars().filter(|c| c.is_ascii_digit()).count(), 7);
        prop_assert_eq!(format!("{m:?}"), format!("Mobile({masked:?})"));
        prop_assert!(!masked.contains(&s[3..7]) || s[3..7] == s[7..]);
    }

    #[test]
    fn errors_never_echo_the_number(s in "[0-9]{18}") {
        if let Err(e) = IdCard::parse(&s) {
            prop_assert!(!e.to_string().contains(&s[2..]));
        }
    }

    #[test]
    fn built_requests_round_trip_through_a_form_decoder(
        key in "\\PC{0,40}",
        idcard in "[A-Za-z0-9+/=]{0,350}",
        mobile in "\\PC{0,40}",
        get in any::<bool>(),
    ) {
        let method = if get { Method::Get } else { Method::Post };
        let params = QueryParams::new(&key, &idcard, &mobile);
        let req = build_request("http://127.0.0.1:1", Endpoint::Rsa, method, &params).unwrap();
        let encoded = if method == Method::Post {
            req.body().clone()
        } else {
            req.uri().query().unwrap_or("").as_bytes().to_vec()
        };
        let expected = vec![
            ("key".to_owned(), key.clone()),
            ("idcard".to_owned(), idcard.clone()),
            ("mobile".to_owned(), mobile.clone()),
        ];
        prop_assert_eq!(form_pairs(&encoded), expected);
    }
}

proptest! {}
