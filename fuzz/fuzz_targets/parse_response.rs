//! `parse_response` on any status and body: a typed result, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data.split_first() {
        Some((first, rest)) => (
            [200u16, 200, 200, 404, 429, 500, 502, 504][usize::from(*first % 8)],
            rest,
        ),
        None => (200, data),
    };
    let response = http::Response::builder()
        .status(status)
        .body(body.to_vec())
        .expect("valid status");
    let _ = juhe_proto::parse_response(&response);
});
