//! The sandbox's request handling on arbitrary request bytes: method, path, headers, query and
//! body from the input; every request gets the vendor's JSON shape or a dropped connection.
#![no_main]

use std::sync::OnceLock;

use juhe_sandbox::{InProcessSandbox, Sandbox};
use libfuzzer_sys::fuzz_target;

fn sandbox() -> &'static (InProcessSandbox, tokio::runtime::Runtime) {
    static SANDBOX: OnceLock<(InProcessSandbox, tokio::runtime::Runtime)> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        (Sandbox::builder().build_in_process().unwrap(), runtime)
    })
}

const PATHS: [&str; 4] = [
    "/telecom2Cucc/query",
    "/telecom2Cucc/queryEncry",
    "/telecom2Cucc/queryRV2",
    "/",
];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "HEAD"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // The input is `query \n content-type \n body`.
    let mut parts = rest.splitn(3, |b| *b == b'\n');
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let content_type = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let uri = format!("{}?{}", PATHS[usize::from(selector & 3)], query);
    let mut builder = http::Request::builder()
        .method(METHODS[usize::from(selector >> 2 & 3)])
        .uri(uri);
    if selector & 0x10 != 0 {
        builder = builder.header("content-type", content_type);
    }
    let Ok(request) = builder.body(body.to_vec()) else {
        return;
    };
    let (sandbox, runtime) = sandbox();
    if let Some(response) = runtime.block_on(sandbox.handle(request)) {
        if response.status() != http::StatusCode::INTERNAL_SERVER_ERROR
            && !response.body().is_empty()
        {
            let json: serde_json::Value =
                serde_json::from_slice(response.body()).expect("JSON answer");
            assert!(json["error_code"].is_i64(), "{json}");
        }
    }
});
