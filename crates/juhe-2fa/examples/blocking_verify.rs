//! One check with the blocking client (ureq; no async runtime in your program).
//!
//! With `JUHE_KEY` set it calls the real service (or `JUHE_BASE_URL`) in RSA mode when
//! `JUHE_RSA_PUBLIC_KEY` names a key file; without, it runs against a local sandbox.
//!
//! `cargo run -p juhe-2fa --example blocking_verify`
#![allow(clippy::print_stdout)]

use juhe_2fa::{ClientBuilder, Mode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox;
    let builder = match std::env::var("JUHE_KEY") {
        Ok(key) => {
            let mut b = ClientBuilder::new().api_key(key);
            if let Ok(url) = std::env::var("JUHE_BASE_URL") {
                b = b.base_url(url);
            }
            if let Ok(path) = std::env::var("JUHE_RSA_PUBLIC_KEY") {
                b = b.mode(Mode::rsa(&std::fs::read_to_string(path)?)?);
            }
            b
        }
        Err(_) => {
            sandbox = juhe_sandbox::Sandbox::builder().spawn_blocking()?;
            println!(
                "JUHE_KEY not set: using a local sandbox at {}",
                sandbox.base_url()
            );
            ClientBuilder::new()
                .api_key(juhe_sandbox::demo::API_KEY)
                .base_url(sandbox.base_url())
                .mode(Mode::rsa(juhe_sandbox::demo::RSA_PUBLIC_KEY_B64)?)
        }
    };
    let client = builder.build_blocking()?;
    let (idcard, mobile) = juhe_sandbox::demo::MISMATCH;
    let v = client.verify(idcard, mobile)?;
    println!("{} via {} (order {})", v.verdict, v.mode, v.order_id);
    Ok(())
}
