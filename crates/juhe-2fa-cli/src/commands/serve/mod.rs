//! `serve`: the HTTP gateway. One process holds the vendor key; every caller authenticates
//! with its own bearer token and checks through the same engine as every other command, with
//! its own rate, budgets and purposes (docs/gateway.md).

mod answer;
mod auth;
mod config;
mod openapi;
mod routes;
mod tls;
mod workers;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::cli::{Global, ServeArgs};
use crate::error::{CliError, Exit};

/// Each check's deadline when `--deadline` is not given: a gateway never lets a request wait
/// without end.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(20);

pub fn run(global: &Global, args: &ServeArgs) -> Result<Exit, CliError> {
    if let Some(name) = &args.new_token {
        return new_token(name);
    }
    if args.demo {
        return demo(global, args);
    }
    let Some(path) = &args.config else {
        return Err(CliError::usage(
            "serve needs --config FILE (or --new-token NAME)",
        ));
    };
    let callers = config::load(path)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let workers = workers::Workers::start(args.workers)?;
    let runtime = crate::runtime()?;
    runtime.block_on(serve(global, args, callers, tls, &workers))
}

/// `--new-token NAME`: a fresh token, printed once, and the lines for the config.
fn new_token(name: &str) -> Result<Exit, CliError> {
    if !config::valid_name(name) {
        return Err(CliError::usage(
            "--new-token NAME: 1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    let token = auth::new_token()
        .map_err(|e| CliError::failure(format!("no randomness from the system: {e}")))?;
    let digest = hex::encode(auth::digest(&token));
    crate::print_line(&format!(
        "# The token for {name}, shown once: give it to the caller as a secret.\n\
         # It is sent as `Authorization: Bearer <token>`; the gateway keeps only its SHA-256.\n\
         {token}\n\n\
         # Paste into the gateway's --config file:\n\
         [[caller]]\n\
         name = \"{name}\"\n\
         token_sha256 = \"{digest}\"\n\
         # qps = 10\n\
         # budget = [\"1000/day\"]\n\
         # purposes = [\"account opening (KYC)\"]"
    ));
    Ok(Exit::Ok)
}

/// `--demo`: an in-process sandbox behind the gateway, one caller, its token printed.
fn demo(global: &Global, args: &ServeArgs) -> Result<Exit, CliError> {
    use juhe_sandbox::{Sandbox, demo};
    if global.base_url.is_some() || !global.key.is_empty() || global.key_file.is_some() {
        return Err(CliError::usage(
            "serve --demo runs its own sandbox with the demo key: drop --base-url and the key",
        ));
    }
    let token = auth::new_token()
        .map_err(|e| CliError::failure(format!("no randomness from the system: {e}")))?;
    let limits = juhe_2fa::budget::CallerLimits::new("demo", None, Vec::new())
        .map_err(|e| CliError::failure(format!("the demo caller: {e}")))?;
    let callers = vec![config::Caller {
        name: "demo".to_owned(),
        digest: auth::digest(&token),
        purposes: None,
        limits,
    }];
    let runtime = crate::runtime()?;
    let sandbox = runtime
        .block_on(Sandbox::builder().spawn())
        .map_err(|e| CliError::failure(format!("cannot start the sandbox: {e}")))?;
    let mut global = global.clone();
    global.base_url = Some(sandbox.base_url());
    global.key = vec![demo::API_KEY.to_owned()];
    // `--mode aes|rsa` works too, with the sandbox's demo key material unless given.
    if global.aes_key.is_none() && global.openid.is_none() {
        global.openid = Some(demo::OPENID.to_owned());
    }
    if global.rsa_public_key.is_none() {
        global.rsa_public_key = Some(demo::RSA_PUBLIC_KEY_PEM.to_owned());
    }
    let (idcard, mobile) = demo::MATCH;
    crate::print_line(&format!(
        "# juhe-2fa serve --demo: the gateway in front of an in-process sandbox (demo key and \
         fixtures; nothing leaves this machine).\n\
         # The caller `demo`'s token, valid until this process stops:\n\
         {token}\n\
         # Try:\n\
         # curl -H 'Authorization: Bearer {token}' -d '{{\"idcard\":\"{idcard}\",\"mobile\":\"{mobile}\"}}' http://{host}/v1/verify",
        host = match args.addr.port() {
            0 => format!("{}:PORT", args.addr.ip()),
            _ => args.addr.to_string(),
        },
    ));
    let workers = workers::Workers::start(args.workers)?;
    let exit = runtime.block_on(serve(&global, args, callers, None, &workers));
    drop(workers);
    runtime.block_on(sandbox.shutdown());
    exit
}

async fn serve(
    global: &Global,
    args: &ServeArgs,
    callers: Vec<config::Caller>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    workers: &workers::Workers,
) -> Result<Exit, CliError> {
    let (mut builder, ledger) = crate::config::client_builder_and_ledger(global)?;
    let deadline = match global.deadline {
        Some(_) => None,
        None => Some(DEFAULT_DEADLINE),
    };
    if let Some(deadline) = deadline {
        builder = builder.deadline(deadline);
    }
    let client = builder
        .build()
        .map_err(|e| crate::config::config_error(&e))?;
    let handle = crate::prometheus::install(&tokio::runtime::Handle::current())
        .map_err(|e| CliError::failure(format!("cannot start the metrics: {e}")))?;
    // Each worker's checks open their own connections, on its thread; all else is shared.
    let callers: Arc<[config::Caller]> = callers.into();
    let mut served = Vec::new();
    for runtime in workers.handles() {
        let gateway = Arc::new(routes::Gateway {
            client: client
                .with_own_connections()
                .map_err(|e| crate::config::config_error(&e))?,
            callers: callers.clone(),
            metrics: args.metrics_addr.is_none().then(|| handle.clone()),
        });
        served.push(juhe_server::Worker::new(
            runtime.clone(),
            routes::router(gateway),
        ));
    }
    let listener = juhe_server::bind(args.addr)
        .map_err(|e| CliError::usage(format!("--addr {}: {e}", args.addr)))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::failure(format!("--addr {}: {e}", args.addr)))?;
    let (stop, stopped) = watch::channel(false);
    let metrics_task = match args.metrics_addr {
        Some(addr) => Some(serve_metrics(addr, handle, stopped.clone()).await?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Tests and scripts read the address from this line (with `--addr 127.0.0.1:0`).
    eprintln!("juhe-2fa serve: listening on {scheme}://{local}");
    tracing::info!(addr = %local, "gateway listening");
    tokio::spawn(signalled(stop));
    let grace = global_grace(global, deadline)?;
    let mut options = juhe_server::Options::new(limits(args, grace), refuse);
    options.tls = tls;
    juhe_server::serve_on(listener, served, stopped, options).await;
    tracing::info!("stopped accepting; in-flight checks finished");
    if let Some(task) = metrics_task {
        task.abort();
    }
    // The fleet's pending work (its keeper may run on a worker: they still run), then the
    // ledger's queued records.
    client.close().await;
    drop(client);
    if let Some(ledger) = ledger {
        tokio::task::spawn_blocking(move || ledger.flush())
            .await
            .map_err(|e| CliError::failure(format!("flushing the ledger: {e}")))?;
    }
    eprintln!("juhe-2fa serve: stopped");
    Ok(Exit::Ok)
}

/// What a check may take at most: its deadline, then an attempt already sent runs to its own
/// timeout. In-flight checks get that long to finish after SIGTERM.
fn global_grace(global: &Global, default: Option<Duration>) -> Result<Duration, CliError> {
    let deadline = match (global.deadline, default) {
        (Some(secs), _) => Duration::try_from_secs_f64(secs).unwrap_or(DEFAULT_DEADLINE),
        (None, Some(d)) => d,
        (None, None) => DEFAULT_DEADLINE,
    };
    Ok(deadline + crate::config::timeout(global)? + Duration::from_secs(1))
}

fn limits(args: &ServeArgs, grace: Duration) -> juhe_server::Limits {
    let mut limits = juhe_server::Limits::default();
    limits.max_connections = args.max_connections.max(1);
    limits.header_timeout = Duration::from_secs(10);
    limits.request_timeout = Duration::from_secs(10);
    limits.min_body_rate = 256;
    limits.body_limit = routes::BODY_LIMIT;
    limits.grace = grace;
    limits
}

fn refuse(refusal: juhe_server::Refusal) -> axum::response::Response {
    use axum::response::IntoResponse;
    answer::Failure::refused_body(refusal).into_response()
}

/// `--metrics-addr`: `/metrics` alone, on its own address.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    handle: metrics_exporter_prometheus::PrometheusHandle,
    mut stopped: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, CliError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::usage(format!("--metrics-addr {addr}: {e}")))?;
    let app = routes::metrics_router(handle);
    Ok(tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.changed().await;
        };
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await;
    }))
}

/// SIGTERM or Ctrl-C: stop accepting, finish what is in flight.
async fn signalled(stop: watch::Sender<bool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(true);
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down: finishing in-flight checks");
    let _ = stop.send(true);
}
