//! `juhe-2fa`: check whether an ID card number owns a China Unicom mobile number, from the
//! command line. See `docs/cli.md`.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]
// a command line prints
// Doc comments in `cli` are clap help text for a terminal, not rustdoc markdown.
#![allow(
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]

/// See Cargo.toml: measured faster than the system allocator for `serve` and `batch`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod commands;
mod config;
mod encoding;
mod error;
mod lang;
mod prometheus;

use std::io::Write;
use std::process::ExitCode;

use clap::FromArgMatches;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::cli::{Cli, Command};
use crate::error::{CliError, Exit};

fn main() -> ExitCode {
    let mut command = cli::command();
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)))
        .map_err(|e| e.format(&mut command));
    let cli = match parsed {
        Ok((cli, matches)) => {
            lang::Lang::detect(cli.global.lang, |name| std::env::var(name).ok()).set();
            match cli::refuse_unused(&command, &matches) {
                Ok(()) => cli,
                Err(e) => {
                    print_cli_error(&e);
                    return ExitCode::from(e.exit as u8);
                }
            }
        }
        Err(e) => {
            if e.use_stderr() {
                print_parse_error(&e);
                return ExitCode::from(Exit::Usage as u8);
            }
            // Help and version: as clap prints them, exit 0.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let log_requests = matches!(&cli.command, Command::Sandbox(a) if a.log_requests);
    init_tracing(cli.global.verbose, log_requests);
    let g = &cli.global;
    let result = match &cli.command {
        Command::Verify { idcard, mobile } => commands::verify::run(g, idcard, mobile),
        Command::Check {
            idcard: Some(i),
            mobile: Some(m),
            ..
        } => commands::check::one(i, m, g.json),
        Command::Check {
            input: Some(path),
            encoding,
            sheet,
            ..
        } => commands::check::file(path, *encoding, sheet.as_deref(), g.json),
        Command::Check { .. } => Err(CliError::usage(
            "check needs --idcard and --mobile, or --input FILE",
        )),
        Command::Batch(args) => commands::batch::run(g, args),
        Command::Encrypt { value } => commands::encrypt::run(g, value),
        Command::Doctor(args) => commands::doctor::run(g, args),
        Command::Sandbox(args) => commands::sandbox::run(g, args),
        Command::Demo => commands::demo::run(g.json),
        Command::Ledger(args) => commands::ledger::run(g, args),
        Command::Serve(args) => commands::serve::run(g, args),
    };
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            print_cli_error(&e);
            ExitCode::from(e.exit as u8)
        }
    }
}

fn init_tracing(verbose: u8, log_requests: bool) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // Warnings (e.g. the sandbox's connection cap, Redis unreachable) show by default; the
    // SDK's own retry warnings only with -v, as the command reports failures itself.
    let mut default = if verbose == 0 {
        "error,juhe_sandbox=warn,juhe_2fa::fleet=info".to_owned()
    } else {
        level.to_owned()
    };
    if log_requests {
        default.push_str(",juhe_sandbox::request=info");
    }
    // `target=level` directives (no regex engine in the build for span or field filters).
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .or_else(|| default.parse().ok())
        .unwrap_or_default();
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = tracing_subscriber::registry()
        .with(output)
        .with(filter)
        .try_init();
}

/// A multi-thread runtime for the async parts of a command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the async runtime: {e}")))
}

/// One line to stdout; a closed pipe ends quietly.
pub(crate) fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").is_err() {
        std::process::exit(0);
    }
}

/// `juhe-2fa: warning: …` on stderr.
pub(crate) fn print_warning(message: &str) {
    eprintln!("juhe-2fa: {}{message}", lang::warning_prefix());
}

/// `juhe-2fa: error: …` and an optional hint, on stderr (in the run's language: the message
/// and hint are given in it).
pub(crate) fn print_error(message: &str, hint: Option<&str>) {
    eprintln!("juhe-2fa: {}{message}", lang::error_prefix());
    if let Some(hint) = hint {
        eprintln!("{}{hint}", lang::hint_prefix());
    }
}

/// An error found while parsing the command line. The run's language comes from the words
/// themselves (`--lang zh`, `--lang=zh`) or the environment, as the parsed flag would; in
/// Chinese a lead says what kind of mistake it is, and clap's English detail follows.
fn print_parse_error(e: &clap::Error) {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let flag = lang::Lang::from_args(&args);
    if lang::Lang::detect(flag, |name| std::env::var(name).ok()) == lang::Lang::Zh {
        lang::Lang::Zh.set();
        let (lead, hint) = lang::parse_error_zh(e.kind());
        print_error(lead, None);
        let _ = e.print();
        eprintln!("{}{hint}", lang::hint_prefix());
    } else {
        let _ = e.print();
    }
}

/// A failure of the command. In Chinese, a message the catalogue has no Chinese text for
/// (an OS error, a library's detail) gets a Chinese lead naming its kind.
pub(crate) fn print_cli_error(e: &CliError) {
    let zh = lang::Lang::current() == lang::Lang::Zh;
    let has_chinese = e
        .message
        .chars()
        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    if zh && !has_chinese {
        let message = format!("{}：{}", lang::category_zh(e.exit), e.message);
        print_error(&message, e.hint.as_deref());
    } else {
        print_error(&e.message, e.hint.as_deref());
    }
}
