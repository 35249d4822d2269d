//! Bring your own HTTP stack: any `Fn(HttpRequest) -> Result<HttpResponse, TransportError>`
//! is a blocking transport (and an async closure an async one). Here a closure logs the
//! request line (never the body: it holds the key) and answers like the vendor would.
//!
//! `cargo run -p juhe-2fa --example custom_transport`
#![allow(clippy::print_stdout)]

use juhe_2fa::{ClientBuilder, HttpRequest, HttpResponse, TransportError};

fn main() -> Result<(), juhe_2fa::Error> {
    let transport = |request: HttpRequest| -> Result<HttpResponse, TransportError> {
        println!(
            "would send: {} {} ({} body bytes)",
            request.method(),
            request.uri(),
            request.body().len()
        );
        let body =
            r#"{"reason":"成功","result":{"res":1,"orderid":"JH000000000000001"},"error_code":0}"#;
        Ok(http::Response::new(body.as_bytes().to_vec()))
    };
    let client = ClientBuilder::new()
        .api_key("your-key")
        .build_blocking_with_transport(transport)?;
    let v = client.verify("110105199003071239", "13012345678")?;
    println!("{} (order {})", v.verdict, v.order_id);
    Ok(())
}
