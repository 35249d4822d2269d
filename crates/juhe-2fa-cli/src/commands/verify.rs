//! `verify`: one check with the API.

use std::time::Instant;

use juhe_2fa::{Error, Verification};
use serde_json::json;

use crate::cli::{ClientArg, Global};
use crate::config::{client_builder, config_error};
use crate::error::{CliError, Exit, chain, exit_for};

pub fn run(global: &Global, idcard: &str, mobile: &str) -> Result<Exit, CliError> {
    let builder = client_builder(global)?;
    let started = Instant::now();
    let result = match global.client {
        ClientArg::Blocking => builder
            .build_blocking()
            .map_err(|e| config_error(&e))?
            .verify(idcard, mobile),
        ClientArg::Async => {
            let runtime = crate::runtime()?;
            let client = runtime
                .block_on(async { builder.build() })
                .map_err(|e| config_error(&e))?;
            runtime.block_on(async {
                let result = client.verify(idcard, mobile).await;
                client.close().await;
                result
            })
        }
    };
    report(
        global.json,
        &result,
        started.elapsed().as_secs_f64() * 1000.0,
    )
}

/// The JSON error object of `--json` (docs/cli.md).
pub fn error_json(e: &Error) -> serde_json::Value {
    let reason = match e {
        Error::Api { reason, .. } => reason.clone(),
        other => chain(other),
    };
    json!({ "error": {
        "kind": e.kind_name(),
        "code": e.error_code().map(|c| c.code()),
        "reason": reason,
        "retryable": e.is_retryable(),
    }})
}

fn report(
    json: bool,
    result: &Result<Verification, Error>,
    latency_ms: f64,
) -> Result<Exit, CliError> {
    match result {
        Ok(v) => {
            if json {
                let out = json!({ "verdict": v.verdict, "res": v.res(), "order_id": v.order_id, "mode": v.mode });
                crate::print_line(&out.to_string());
            } else {
                crate::print_line(&crate::lang::verify_line(v, latency_ms));
            }
            Ok(if v.is_match() {
                Exit::Ok
            } else {
                Exit::Mismatch
            })
        }
        Err(e) => {
            if json {
                crate::print_line(&error_json(e).to_string());
            } else {
                let (message, hint) = crate::lang::check_error(e);
                crate::print_error(&message, hint);
            }
            Ok(exit_for(e))
        }
    }
}
