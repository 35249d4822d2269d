//! ID card and mobile parsing: never panics; what parses re-parses to itself and prints masked.
#![no_main]

use juhe_proto::{IdCard, Mobile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(id) = IdCard::parse(&text) {
        let again = IdCard::parse(id.as_unmasked_str()).expect("a parsed ID re-parses");
        assert_eq!(again, id);
        assert!(!format!("{id} {id:?}").contains(id.as_unmasked_str()));
    }
    if let Ok(mobile) = Mobile::parse(&text) {
        let again = Mobile::parse(mobile.as_unmasked_str()).expect("a parsed mobile re-parses");
        assert_eq!(again, mobile);
        assert!(!format!("{mobile} {mobile:?}").contains(mobile.as_unmasked_str()));
        let _ = mobile.carrier();
    }
});
