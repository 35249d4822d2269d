//! One check with the async client.
//!
//! With `JUHE_KEY` (and optionally `JUHE_BASE_URL`) set, it calls that service with the pair
//! given as arguments; without, it starts a local sandbox and checks its demo pair.
//!
//! `cargo run -p juhe-2fa --example async_verify -- 110105199003071239 13012345678`
#![allow(clippy::print_stdout)]

use juhe_2fa::{Client, Error};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (idcard, mobile) = match args.as_slice() {
        [i, m] => (i.clone(), m.clone()),
        _ => (
            juhe_sandbox::demo::MATCH.0.to_owned(),
            juhe_sandbox::demo::MATCH.1.to_owned(),
        ),
    };
    let mut sandbox = None;
    let (key, base_url) = match std::env::var("JUHE_KEY") {
        Ok(key) => (
            key,
            std::env::var("JUHE_BASE_URL").unwrap_or_else(|_| juhe_2fa::DEFAULT_BASE_URL.into()),
        ),
        Err(_) => {
            let sb = juhe_sandbox::Sandbox::builder().spawn().await?;
            let url = sb.base_url();
            sandbox = Some(sb);
            println!("JUHE_KEY not set: using a local sandbox at {url}");
            (juhe_sandbox::demo::API_KEY.to_owned(), url)
        }
    };
    let client = Client::builder().api_key(key).base_url(base_url).build()?;
    match client.verify(&idcard, &mobile).await {
        Ok(v) => println!(
            "{}: order {} after {} attempt(s)",
            v.verdict, v.order_id, v.attempts
        ),
        Err(e @ Error::Api { .. }) => println!("the API said: {e}"),
        Err(e) if e.is_ambiguous() => println!("may have been billed, check before resending: {e}"),
        Err(e) => println!("failed: {e}"),
    }
    if let Some(sb) = sandbox {
        sb.shutdown().await;
    }
    Ok(())
}
