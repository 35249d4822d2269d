//! From flags and environment to SDK configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use juhe_2fa::layers::transport::TransportConfig;
use juhe_2fa::{Proxy, TransportError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use juhe_2fa::FieldEncryptor;
use juhe_2fa::{
    AesConfig, AesMode, ClientBuilder, FleetOptions, Method, Mode, RetryPolicy, RsaPublicKey,
};

use crate::cli::{Global, MethodArg, ModeArg};
use crate::error::{CliError, chain};

/// `--rsa-public-key` is a file path or the key text itself.
pub fn read_key_arg(value: &str) -> Result<String, CliError> {
    let path = Path::new(value);
    if value.len() < 4096 && path.is_file() {
        return std::fs::read_to_string(path)
            .map_err(|e| CliError::io("read the key file", path, &e));
    }
    Ok(value.to_owned())
}

/// The AES key from `--openid` (the vendor's scheme).
pub fn openid_key(openid: &str) -> Result<AesConfig, CliError> {
    AesConfig::from_openid(openid).map_err(|e| CliError::usage(format!("--openid: {}", chain(&e))))
}

/// The AES key from `--aes-key`.
pub fn literal_aes_key(key: &str) -> Result<AesConfig, CliError> {
    AesConfig::new(key).map_err(|e| {
        CliError::usage(format!("--aes-key: {}", chain(&e))).with_hint(crate::lang::aes_key_hint())
    })
}

/// `--aes-mode` and `--aes-iv` applied to a key. An IV means CBC; with ECB it is refused
/// rather than silently ignored.
pub fn with_aes_flags(global: &Global, mut config: AesConfig) -> Result<AesConfig, CliError> {
    match (global.aes_mode, global.aes_iv) {
        (Some(AesMode::Ecb), Some(_)) => {
            return Err(
                CliError::usage("--aes-iv applies to CBC only, but --aes-mode is ecb")
                    .with_hint(crate::lang::aes_iv_ecb_hint()),
            );
        }
        (mode, iv) => {
            if let Some(iv) = iv {
                config = config.with_mode(AesMode::Cbc).with_iv(iv);
            }
            if let Some(mode) = mode {
                config = config.with_mode(mode);
            }
        }
    }
    Ok(config)
}

/// The AES settings from `--openid` or `--aes-key`, with `--aes-mode/--aes-iv`; `None` when
/// neither is given.
pub fn aes_config(global: &Global) -> Result<Option<AesConfig>, CliError> {
    let key = match (&global.openid, &global.aes_key) {
        (Some(_), Some(_)) => {
            return Err(CliError::usage(
                "--openid and --aes-key were both given (flags or JUHE_OPENID/JUHE_AES_KEY); an account uses one",
            )
            .with_hint(crate::lang::openid_and_aes_key_hint()));
        }
        (Some(openid), None) => openid_key(openid)?,
        (None, Some(key)) => literal_aes_key(key)?,
        (None, None) => return Ok(None),
    };
    with_aes_flags(global, key).map(Some)
}

/// The usage error for `--mode aes` without a key source.
pub fn missing_aes_key() -> CliError {
    CliError::usage("--mode aes needs --openid or --aes-key")
        .with_hint(crate::lang::missing_aes_key_hint())
}

pub fn mode(global: &Global) -> Result<Mode, CliError> {
    Ok(match global.mode {
        ModeArg::Plain => Mode::Plain,
        ModeArg::Aes => Mode::Aes(aes_config(global)?.ok_or_else(missing_aes_key)?),
        ModeArg::Rsa => Mode::Rsa(rsa_public_key(global)?),
    })
}

/// The vendor's RSA public key from `--rsa-public-key`, parsed (a usage error if it is not one).
pub fn rsa_public_key(global: &Global) -> Result<RsaPublicKey, CliError> {
    let key = global.rsa_public_key.as_deref().ok_or_else(|| {
        CliError::usage("--mode rsa needs the vendor's RSA public key")
            .with_hint(crate::lang::missing_rsa_key_hint())
    })?;
    RsaPublicKey::parse(&read_key_arg(key)?)
        .map_err(|e| CliError::usage(format!("--rsa-public-key: {}", chain(&e))))
}

/// The encryptor for `encrypt --value`.
pub fn encryptor(global: &Global) -> Result<Box<dyn FieldEncryptor>, CliError> {
    mode(global)?
        .encryptor()
        .map_err(|e| CliError::usage(chain(&e)))
}

/// The client builder for the commands that call the API.
pub fn client_builder(global: &Global) -> Result<ClientBuilder, CliError> {
    Ok(client_builder_without_mode(global)?.mode(mode(global)?))
}

/// [`client_builder`] before the mode is set (`doctor` tries several).
pub fn client_builder_without_mode(global: &Global) -> Result<ClientBuilder, CliError> {
    fleet(direct_client_builder(global)?, global)
}

/// [`client_builder_without_mode`] without `--qps` and `--redis`: a client that sends every
/// check itself, never answered from the fleet's shared answers (`doctor` must see the
/// vendor's own answer to each scheme). The fleet flags are still checked.
pub fn direct_client_builder(global: &Global) -> Result<ClientBuilder, CliError> {
    let (builder, _ledger) = base_builder(global)?;
    Ok(builder)
}

/// [`client_builder`] and a handle on its audit ledger, when there is one (`serve` flushes it
/// before it exits).
pub fn client_builder_and_ledger(
    global: &Global,
) -> Result<(ClientBuilder, Option<juhe_ledger::AuditLedger>), CliError> {
    let (builder, ledger) = base_builder(global)?;
    Ok((fleet(builder, global)?.mode(mode(global)?), ledger))
}

/// Key, method, timeouts, retries, base URL, budgets, deadline and the ledger.
fn base_builder(
    global: &Global,
) -> Result<(ClientBuilder, Option<juhe_ledger::AuditLedger>), CliError> {
    // Only checks the fleet flags: this builder is not used.
    let _ = fleet(ClientBuilder::new(), global)?;
    let key = api_key(global)?;
    let timeout = timeout(global)?;
    let mut builder = ClientBuilder::new()
        .api_key(key)
        .method(match global.method {
            MethodArg::Post => Method::Post,
            MethodArg::Get => Method::Get,
        })
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .retry_policy(RetryPolicy::default().with_max_retries(global.retries));
    if let Some(url) = &global.base_url {
        builder = builder.base_url(url.clone());
    }
    builder = network(global)?.apply(builder);
    for budget in &global.budget {
        let budget = budget.parse().map_err(|_| {
            CliError::usage(format!(
                "--budget {budget:?}: write N/day or N/month, e.g. 1000/day"
            ))
        })?;
        builder = builder.budget(budget);
    }
    if let Some(secs) = global.deadline {
        let deadline = Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| CliError::usage("--deadline must be a positive number of seconds"))?;
        builder = builder.deadline(deadline);
    }
    with_ledger(builder, global)
}

/// `--caller`, `--purpose` and the audit ledger (`--ledger`, `--ledger-optional`): every
/// command that builds a client records its checks.
fn with_ledger(
    mut builder: ClientBuilder,
    global: &Global,
) -> Result<(ClientBuilder, Option<juhe_ledger::AuditLedger>), CliError> {
    if let Some(caller) = &global.caller {
        builder = builder.caller(caller.clone());
    }
    if let Some(purpose) = &global.purpose {
        builder = builder.purpose(purpose.clone());
    }
    let Some(location) = &global.ledger else {
        if global.ledger_optional {
            return Err(CliError::usage(
                "--ledger-optional needs --ledger (or JUHE_LEDGER)",
            ));
        }
        return Ok((builder, None));
    };
    match open_ledger(location) {
        Ok(ledger) => Ok((
            builder
                .ledger(ledger.clone())
                .ledger_optional(global.ledger_optional),
            Some(ledger),
        )),
        Err(e) if global.ledger_optional => {
            crate::print_warning(&crate::lang::ledger_optional_warning(&e.message));
            Ok((builder, None))
        }
        Err(e) => Err(e.with_hint(crate::lang::ledger_unusable_hint())),
    }
}

/// Opens the audit ledger at `location` (a file, or a URL printed without its password).
pub fn open_ledger(location: &str) -> Result<juhe_ledger::AuditLedger, CliError> {
    juhe_ledger::AuditLedger::open(location).map_err(|e| {
        CliError::usage(format!(
            "cannot use the ledger {}: {}",
            ledger_shown(location),
            chain(&e)
        ))
    })
}

/// A ledger location as it may be printed: a URL without its password or its query (which
/// may hold `password=`).
pub fn ledger_shown(location: &str) -> String {
    match location.split_once('?') {
        Some((url, _)) => format!("{}?[redacted]", redact_url(url)),
        None => redact_url(location),
    }
}

/// A URL as it may be printed: any `user:password@` replaced by `[redacted]@`.
pub fn redact_url(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!("{}[redacted]{}", &url[..authority_start], &rest[at..]),
        None => url.to_owned(),
    }
}

/// The fleet's options from the command line (see [`fleet`]).
pub fn fleet_options(global: &Global) -> FleetOptions {
    FleetOptions::default().with_expected_replicas(global.expected_replicas)
}

/// `--qps`, alone or fleet-wide with `--redis` (which also turns on de-duplication).
fn fleet(mut builder: ClientBuilder, global: &Global) -> Result<ClientBuilder, CliError> {
    let Some(url) = &global.redis else {
        if global.dedupe_ttl > 0 {
            return Err(CliError::usage(
                "--dedupe-ttl needs --redis (or JUHE_REDIS_URL)",
            ));
        }
        if let Some(qps) = global.qps {
            builder = builder.rate_limit(qps);
        }
        return Ok(builder);
    };
    if global.expected_replicas == 0 {
        return Err(CliError::usage("--expected-replicas must be at least 1"));
    }
    // Ten years: longer is a typo, and Redis would refuse the expiry after the check was sent.
    if global.dedupe_ttl > 10 * 365 * 86_400 {
        return Err(CliError::usage(
            "--dedupe-ttl is at most 315360000 seconds (ten years)",
        ));
    }
    builder = builder
        .dedupe(url.clone(), Duration::from_secs(global.dedupe_ttl))
        .fleet_options(fleet_options(global));
    if let Some(qps) = global.qps {
        builder = builder.shared_rate_limit(url.clone(), qps);
    }
    Ok(builder)
}

/// The first line of a key file or of stdin, trimmed; empty is an error.
fn first_line(mut reader: impl std::io::BufRead, what: &str) -> Result<String, CliError> {
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| CliError::usage(format!("cannot read the API key from {what}: {e}")))?;
    let key = line.trim().to_owned();
    if key.is_empty() {
        return Err(CliError::usage(format!("{what} holds no API key")));
    }
    Ok(key)
}

/// The API key: `--key-file`, else `--key` (`-` for stdin) or `JUHE_KEY`.
pub fn api_key(global: &Global) -> Result<String, CliError> {
    if let Some(path) = &global.key_file {
        let file =
            std::fs::File::open(path).map_err(|e| CliError::io("read the key file", path, &e))?;
        return first_line(std::io::BufReader::new(file), &path.display().to_string());
    }
    match global.key.as_slice() {
        [] => {
            let (message, hint) = crate::lang::no_api_key();
            Err(CliError::usage(message).with_hint(hint))
        }
        [dash] if dash == "-" => first_line(std::io::stdin().lock(), "stdin"),
        [key] => Ok(key.clone()),
        _ => Err(CliError::usage(
            "--key was given more than once; a client uses one key",
        )),
    }
}

/// The network options: `--proxy` (or `JUHE_PROXY`), `--ca-cert`, `--no-built-in-roots`.
pub struct Network {
    /// The proxy; its `Display` hides the credentials.
    pub proxy: Option<Proxy>,
    /// Each `--ca-cert` file and its PEM text.
    pub roots: Vec<(PathBuf, String)>,
    /// Whether the built-in (Mozilla) roots are trusted too.
    pub built_in_roots: bool,
}

impl Network {
    /// The options on a client builder.
    pub fn apply(&self, mut builder: ClientBuilder) -> ClientBuilder {
        if let Some(proxy) = &self.proxy {
            builder = builder.proxy(proxy.clone());
        }
        for (_, pem) in &self.roots {
            builder = builder.add_root_certificate(pem.clone());
        }
        builder.tls_built_in_roots(self.built_in_roots)
    }

    /// The options on a transport's settings (`doctor`'s own transport).
    pub fn transport(&self, mut config: TransportConfig) -> TransportConfig {
        config = config
            .with_proxy(self.proxy.clone())
            .with_built_in_roots(self.built_in_roots);
        for (_, pem) in &self.roots {
            config = config.with_root_certificate(pem.clone());
        }
        config
    }

    /// The `--ca-cert` files, as printed.
    pub fn root_files(&self) -> String {
        let files: Vec<String> = self
            .roots
            .iter()
            .map(|(path, _)| path.display().to_string())
            .collect();
        files.join(", ")
    }
}

/// Reads and checks the network options: a proxy URL that does not parse, a CA file that
/// cannot be read or holds no PEM certificate, or `--no-built-in-roots` alone is a usage error
/// (exit 2) naming the flag and the file, never the proxy's credentials.
pub fn network(global: &Global) -> Result<Network, CliError> {
    // Empty (a template's `JUHE_PROXY=`, `--proxy "$UNSET"`) is no proxy, as an empty
    // JUHE_LANG is no language.
    let url = global.proxy.as_deref().filter(|u| !u.trim().is_empty());
    let proxy = match url {
        Some(url) => Some(Proxy::parse(url).map_err(|e| {
            let problem = match &e {
                TransportError::InvalidProxy { problem } => (*problem).to_owned(),
                other => other.to_string(),
            };
            CliError::usage(crate::lang::bad_proxy(&problem))
                .with_hint(crate::lang::bad_proxy_hint())
        })?),
        None => None,
    };
    let mut roots = Vec::new();
    for path in &global.ca_cert {
        let pem = std::fs::read(path).map_err(|e| {
            CliError::usage(crate::lang::ca_unreadable(path, &e)).with_hint(crate::lang::ca_hint())
        })?;
        let certificates: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
        // Each must be a trust anchor rustls takes (base64 in PEM armour may be no X.509).
        let usable = |certificates: &[CertificateDer<'_>]| {
            !certificates.is_empty()
                && certificates.iter().all(|c| {
                    rustls::RootCertStore::empty()
                        .add(c.clone().into_owned())
                        .is_ok()
                })
        };
        let pem = match (certificates, String::from_utf8(pem)) {
            (Ok(certificates), Ok(text)) if usable(&certificates) => text,
            _ => {
                return Err(CliError::usage(crate::lang::ca_not_pem(path))
                    .with_hint(crate::lang::ca_hint()));
            }
        };
        roots.push((path.clone(), pem));
    }
    if global.no_built_in_roots && roots.is_empty() {
        let (message, hint) = crate::lang::roots_without_ca();
        return Err(CliError::usage(message).with_hint(hint));
    }
    Ok(Network {
        proxy,
        roots,
        built_in_roots: !global.no_built_in_roots,
    })
}

/// `--timeout` as a duration.
pub fn timeout(global: &Global) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(global.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| CliError::usage("--timeout must be a positive number of seconds"))
}

/// A configuration error from the SDK, as a usage error.
pub fn config_error(e: &juhe_2fa::Error) -> CliError {
    CliError::usage(chain(e))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn credentials_in_a_url_are_redacted() {
        for (url, printed) in [
            (
                "http://user:pass@host:8080/x",
                "http://[redacted]@host:8080/x",
            ),
            ("https://a@b@host", "https://[redacted]@host"),
            ("user:pass@host/p@th", "[redacted]@host/p@th"),
            ("https://apis.juhe.cn", "https://apis.juhe.cn"),
            ("http://host/path?q=a@b", "http://host/path?q=a@b"),
        ] {
            assert_eq!(redact_url(url), printed, "{url}");
        }
    }
}
