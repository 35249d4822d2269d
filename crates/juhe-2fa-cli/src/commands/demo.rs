//! `demo`: plain, AES and RSA checks through both clients against an in-process sandbox.

use std::time::Instant;

use juhe_2fa::{ClientBuilder, Mode};
use juhe_sandbox::{Sandbox, demo};

use crate::error::{CliError, Exit, chain};

pub fn run(json: bool) -> Result<Exit, CliError> {
    let runtime = crate::runtime()?;
    let sandbox = runtime
        .block_on(Sandbox::builder().spawn())
        .map_err(|e| CliError::failure(chain(&e)))?;
    let modes = [
        ("plain", Mode::Plain),
        (
            "aes",
            Mode::aes_openid(demo::OPENID).map_err(|e| CliError::failure(chain(&e)))?,
        ),
        (
            "rsa",
            Mode::rsa(demo::RSA_PUBLIC_KEY_B64).map_err(|e| CliError::failure(chain(&e)))?,
        ),
    ];
    let mut rows = Vec::new();
    let mut all_ok = true;
    for (name, mode) in modes {
        let builder = ClientBuilder::new()
            .api_key(demo::API_KEY)
            .base_url(sandbox.base_url())
            .mode(mode);
        for (client, pair) in [("async", demo::MATCH), ("blocking", demo::MISMATCH)] {
            let started = Instant::now();
            let result = if client == "async" {
                runtime.block_on(async { builder.clone().build()?.verify(pair.0, pair.1).await })
            } else {
                builder
                    .clone()
                    .build_blocking()
                    .and_then(|c| c.verify(pair.0, pair.1))
            };
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let (verdict, order_id) = match result {
                Ok(v) => (v.verdict.to_string(), v.order_id),
                Err(e) => {
                    all_ok = false;
                    (format!("error: {}", chain(&e)), String::new())
                }
            };
            rows.push((name, client, verdict, order_id, ms));
        }
    }
    let stats = sandbox.stats();
    runtime.block_on(sandbox.shutdown());
    if json {
        let items: Vec<_> = rows
            .iter()
            .map(|(m, c, v, o, ms)| serde_json::json!({"mode": m, "client": c, "verdict": v, "order_id": o, "latency_ms": ms}))
            .collect();
        crate::print_line(&serde_json::Value::Array(items).to_string());
    } else {
        let (intro, header) = crate::lang::demo_intro();
        crate::print_line(intro);
        crate::print_line("");
        crate::print_line(header);
        for (mode, client, verdict, order_id, ms) in &rows {
            crate::print_line(&format!(
                "{mode:<6} {client:<9} {verdict:<9} {order_id:<24} {ms:>7.1} ms"
            ));
        }
        crate::print_line("");
        crate::print_line(&crate::lang::demo_summary(stats.requests, stats.billed));
        crate::print_line(&crate::lang::demo_next(&format!(
            "juhe-2fa --base-url http://127.0.0.1:8080 --key {} verify --idcard {} --mobile {}",
            demo::API_KEY,
            demo::MATCH.0,
            demo::MATCH.1
        )));
    }
    Ok(if all_ok { Exit::Ok } else { Exit::Failure })
}
