//! The SDK with `default-features = false`: no reqwest, no ureq, no tokio. Both clients run
//! over a transport of your own; here the async client runs on `futures-executor` (not tokio),
//! retries a 503 with the default timer, and the blocking client answers from a closure.
//!
//! `cargo run -p juhe-2fa-no-backend-example`
#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicU32, Ordering};

use juhe_2fa::http;
use juhe_2fa::{
    Client, ClientBuilder, Error, HttpRequest, HttpResponse, RetryPolicy, Verification,
};

const MATCH: &str =
    r#"{"reason":"成功","result":{"res":1,"orderid":"JH000000000000001"},"error_code":0}"#;

fn respond(status: u16, body: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .expect("valid status")
}

/// A transport that answers 503 once, then a match: stands in for any HTTP stack.
fn flaky_client() -> Result<Client, Error> {
    let calls = AtomicU32::new(0);
    ClientBuilder::new()
        .api_key("your-key")
        .retry_policy(RetryPolicy::default())
        .build_with_transport(move |request: HttpRequest| {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            println!("would send: {} {}", request.method(), request.uri());
            async move {
                Ok(if first {
                    respond(503, "<html>busy</html>")
                } else {
                    respond(200, MATCH)
                })
            }
        })
}

fn run() -> Result<(Verification, Verification), Error> {
    let client = flaky_client()?;
    let async_result =
        futures_executor::block_on(client.verify("110105199003071239", "13012345678"))?;
    let blocking = ClientBuilder::new()
        .api_key("your-key")
        .build_blocking_with_transport(|_request: HttpRequest| Ok(respond(200, MATCH)))?;
    let blocking_result = blocking.verify("110105199003071239", "13012345678")?;
    Ok((async_result, blocking_result))
}

fn main() -> Result<(), Error> {
    let (a, b) = run()?;
    println!(
        "async: {} after {} attempts; blocking: {}",
        a.verdict, a.attempts, b.verdict
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_clients_work_without_a_backend_or_tokio() {
        let (a, b) = super::run().unwrap();
        assert_eq!((a.attempts, a.order_id.as_str()), (2, "JH000000000000001"));
        assert!(a.is_match() && b.is_match());
    }
}
