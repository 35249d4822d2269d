//! From the Python constructors' keyword arguments to the SDK's `ClientBuilder`: each option
//! maps to one builder method, checked here so a bad value fails at construction.

use std::path::Path;
use std::time::Duration;

use juhe_2fa::{AesConfig, ClientBuilder, Error, Mode, RetryPolicy};

use crate::errors::{config, config_with};

/// The options `Client` and `AsyncClient` take (docs/python.md lists them).
#[derive(Default)]
pub(crate) struct ClientOptions {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub mode: Option<String>,
    pub openid: Option<String>,
    pub aes_key: Option<String>,
    pub rsa_public_key: Option<String>,
    pub timeout: Option<f64>,
    pub deadline: Option<f64>,
    pub retries: Option<u32>,
    pub qps: Option<f64>,
    pub redis: Option<String>,
    pub ledger: Option<String>,
    pub caller: Option<String>,
    pub purpose: Option<String>,
    /// Spend budgets, each `N/day` or `N/month`.
    pub budgets: Vec<String>,
}

/// A positive, finite number of seconds.
fn seconds(name: &str, value: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| config(format!("{name} must be a positive number of seconds")))
}

/// The RSA public key's text: the key itself (PEM or base64 DER), or the path of a file that
/// holds it, as the command's `--rsa-public-key` takes it.
pub(crate) fn key_text(value: &str) -> Result<String, Error> {
    let path = Path::new(value);
    if value.len() < 4096 && path.is_file() {
        return std::fs::read_to_string(path)
            .map_err(|e| config_with("the RSA public key file cannot be read", e));
    }
    Ok(value.to_owned())
}

/// The endpoint and its key material from `mode`, `openid`, `aes_key`, `rsa_public_key`.
/// Key material for another mode is refused rather than silently ignored.
pub(crate) fn mode(
    mode: Option<&str>,
    openid: Option<&str>,
    aes_key: Option<&str>,
    rsa_public_key: Option<&str>,
) -> Result<Mode, Error> {
    let mode = mode.unwrap_or("plain");
    let aes_given = openid.is_some() || aes_key.is_some();
    match mode {
        "plain" | "aes" | "rsa" => {}
        other => {
            return Err(config(format!(
                "mode must be \"plain\", \"aes\" or \"rsa\", not {other:?}"
            )));
        }
    }
    if mode != "aes" && aes_given {
        return Err(config("openid and aes_key apply to mode=\"aes\" only"));
    }
    if mode != "rsa" && rsa_public_key.is_some() {
        return Err(config("rsa_public_key applies to mode=\"rsa\" only"));
    }
    match (mode, openid, aes_key) {
        ("plain", _, _) => Ok(Mode::Plain),
        ("aes", Some(_), Some(_)) => Err(config(
            "give openid or aes_key, not both: an account uses one (the vendor's scheme derives the key from the OpenID)",
        )),
        ("aes", Some(openid), None) => Mode::aes_openid(openid),
        ("aes", None, Some(key)) => AesConfig::new(key)
            .map(Mode::Aes)
            .map_err(|e| config_with("aes_key cannot be used as an AES key", e)),
        ("aes", None, None) => Err(config(
            "mode=\"aes\" needs openid (the OpenID from the Juhe console) or aes_key",
        )),
        _ => Mode::rsa(&key_text(rsa_public_key.ok_or_else(|| {
            config("mode=\"rsa\" needs rsa_public_key (the vendor's public key: PEM, base64 DER, or a file)")
        })?)?),
    }
}

impl ClientOptions {
    /// The builder for these options; `api_key` falls back to `JUHE_KEY`. The audit ledger is
    /// opened here (a file, or a `postgres://` URL), with the opener the command uses.
    pub(crate) fn builder(self) -> Result<ClientBuilder, Error> {
        let api_key = self
            .api_key
            .or_else(|| std::env::var("JUHE_KEY").ok())
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| config("no API key: pass api_key=… or set JUHE_KEY"))?;
        let mode = mode(
            self.mode.as_deref(),
            self.openid.as_deref(),
            self.aes_key.as_deref(),
            self.rsa_public_key.as_deref(),
        )?;
        let mut builder = ClientBuilder::new().api_key(api_key).mode(mode);
        if let Some(url) = self.base_url {
            builder = builder.base_url(url);
        }
        if let Some(timeout) = self.timeout {
            let timeout = seconds("timeout", timeout)?;
            builder = builder
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)));
        }
        if let Some(deadline) = self.deadline {
            builder = builder.deadline(seconds("deadline", deadline)?);
        }
        if let Some(retries) = self.retries {
            builder = builder.retry_policy(RetryPolicy::default().with_max_retries(retries));
        }
        if let Some(qps) = self.qps {
            if !(qps.is_finite() && qps > 0.0) {
                return Err(config("qps must be a positive number"));
            }
        }
        builder = match (self.redis, self.qps) {
            // A fleet: the budget is shared, and a pair in flight elsewhere is not sent again
            // (as the command's --redis).
            (Some(url), qps) => {
                let builder = builder.dedupe(url.clone(), Duration::ZERO);
                match qps {
                    Some(qps) => builder.shared_rate_limit(url, qps),
                    None => builder,
                }
            }
            (None, Some(qps)) => builder.rate_limit(qps),
            (None, None) => builder,
        };
        for budget in &self.budgets {
            builder = builder.budget(budget.parse()?);
        }
        if let Some(caller) = self.caller {
            builder = builder.caller(caller);
        }
        if let Some(purpose) = self.purpose {
            builder = builder.purpose(purpose);
        }
        if let Some(location) = self.ledger {
            // The error names the ledger kind, never the location: a URL may hold a password.
            let ledger = juhe_ledger::AuditLedger::open(&location)
                .map_err(|e| config_with("the audit ledger cannot be opened", e))?;
            builder = builder.ledger(ledger);
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use juhe_2fa::{ErrorClass, FieldEncryptor};

    fn problem(result: Result<Mode, Error>) -> String {
        let e = result.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
        e.to_string()
    }

    #[test]
    fn modes_and_their_key_material() {
        assert!(matches!(mode(None, None, None, None), Ok(Mode::Plain)));
        let aes = mode(
            Some("aes"),
            Some("JH0123456789abcdef0123456789abcd"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            aes.encryptor().unwrap().encrypt("13800000000").unwrap(),
            "4OrXBktLnN8vEvItmH/ZFQ=="
        );
        assert!(problem(mode(Some("aes"), None, None, None)).contains("needs openid"));
        assert!(problem(mode(Some("plain"), Some("x"), None, None)).contains("mode=\"aes\""));
        assert!(problem(mode(Some("rsa"), None, None, None)).contains("rsa_public_key"));
        assert!(problem(mode(Some("RSA"), None, None, None)).contains("\"plain\""));
        assert!(problem(mode(Some("rsa"), None, None, Some("not a key"))).contains("RSA"));
        let rsa = mode(
            Some("rsa"),
            None,
            None,
            Some(juhe_sandbox::demo::RSA_PUBLIC_KEY_B64),
        );
        assert!(matches!(rsa, Ok(Mode::Rsa(_))));
    }

    #[test]
    fn bad_numbers_and_a_missing_key_are_config_errors() {
        let with = |options: ClientOptions| options.builder().err().map(|e| e.to_string());
        let key = || Some("k".to_owned());
        assert!(
            with(ClientOptions {
                timeout: Some(0.0),
                api_key: key(),
                ..Default::default()
            })
            .unwrap()
            .contains("timeout")
        );
        assert!(
            with(ClientOptions {
                deadline: Some(f64::NAN),
                api_key: key(),
                ..Default::default()
            })
            .unwrap()
            .contains("deadline")
        );
        assert!(
            with(ClientOptions {
                qps: Some(-1.0),
                api_key: key(),
                ..Default::default()
            })
            .unwrap()
            .contains("qps")
        );
        assert!(
            with(ClientOptions {
                api_key: Some("  ".into()),
                ..Default::default()
            })
            .unwrap()
            .contains("API key")
        );
    }
}
