//! The command line: flags, environment variables, commands (see docs/cli.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, CommandFactory, Parser, Subcommand, ValueEnum};
use juhe_2fa::{AesMode, IvPolicy};
use juhe_sandbox::DefaultVerdict;

use crate::encoding::EncodingArg;
use crate::error::CliError;

/// Check whether an ID card number owns a China Unicom mobile number (Juhe 二要素核验).
#[derive(Debug, Parser)]
#[command(
    name = "juhe-2fa",
    version,
    about,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Each command takes only the options it uses, before or after its name: \
                  `juhe-2fa <COMMAND> --help` lists them (docs/cli.md has the table)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options given before or after the command. Each command takes only those it uses
/// ([`not_applying`]); flags win over environment variables.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// API base URL [default: https://apis.juhe.cn]
    #[arg(long, env = "JUHE_BASE_URL", global = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// API key; `-` reads it from stdin. As a flag it is visible to other local users in `ps`:
    /// prefer JUHE_KEY, --key-file or `--key -` (for `sandbox`: a key to accept; repeatable)
    #[arg(long, env = "JUHE_KEY", hide_env_values = true, global = true, value_name = "KEY", action = ArgAction::Append, allow_hyphen_values = true)]
    pub key: Vec<String>,

    /// Read the API key from the first line of FILE (wins over --key and JUHE_KEY)
    #[arg(long, global = true, value_name = "FILE")]
    pub key_file: Option<PathBuf>,

    /// Endpoint: plain text, AES- or RSA-encrypted fields
    #[arg(long, env = "JUHE_MODE", global = true, value_enum, default_value_t = ModeArg::Plain)]
    pub mode: ModeArg,

    /// The account's OpenID (Juhe console, 个人中心): the key source of the vendor's AES scheme
    /// (MD5-derived key, AES-128-ECB). A secret: never printed
    #[arg(
        long,
        env = "JUHE_OPENID",
        hide_env_values = true,
        global = true,
        value_name = "OPENID"
    )]
    pub openid: Option<String>,

    /// A literal AES key instead of --openid: 16/24/32 UTF-8 bytes, or hex:… / base64:…
    #[arg(
        long,
        env = "JUHE_AES_KEY",
        hide_env_values = true,
        global = true,
        value_name = "K"
    )]
    pub aes_key: Option<String>,

    /// AES block mode [default: ecb, the vendor's]
    #[arg(long, env = "JUHE_AES_MODE", global = true, value_name = "ecb|cbc", value_parser = parse_aes_mode)]
    pub aes_mode: Option<AesMode>,

    /// AES IV policy (implies --aes-mode cbc): same-as-key, zero, prefix, fixed:<32 hex>
    #[arg(long, env = "JUHE_AES_IV", global = true, value_name = "IV", value_parser = parse_iv)]
    pub aes_iv: Option<IvPolicy>,

    /// The vendor's RSA public key: a file, or the key text (PEM or base64 DER)
    #[arg(
        long,
        env = "JUHE_RSA_PUBLIC_KEY",
        hide_env_values = true,
        global = true,
        allow_hyphen_values = true,
        value_name = "FILE|PEM|B64"
    )]
    pub rsa_public_key: Option<String>,

    /// HTTP method (GET puts the key in the URL)
    #[arg(long, global = true, value_enum, default_value_t = MethodArg::Post)]
    pub method: MethodArg,

    /// Timeout for one request, in seconds
    #[arg(long, global = true, value_name = "SECS", default_value_t = 15.0)]
    pub timeout: f64,

    /// Retries of outcomes that cannot have been billed
    #[arg(long, global = true, value_name = "N", default_value_t = 2)]
    pub retries: u32,

    /// At most this many requests per second (retries included); with --redis, for every
    /// process that shares the API key and the Redis
    #[arg(long, global = true, value_name = "Q")]
    pub qps: Option<f64>,

    /// A Redis every process using this API key shares: in-flight de-duplication of a pair
    /// (one bill when several processes check it at once) and a fleet-wide --qps. Holds no
    /// number or key in any readable form. The URL may hold a password: never printed, but a
    /// flag shows in `ps`, so prefer JUHE_REDIS_URL for one with a password
    #[arg(
        long,
        env = "JUHE_REDIS_URL",
        hide_env_values = true,
        global = true,
        value_name = "URL"
    )]
    pub redis: Option<String>,

    /// With --redis: reuse a pair's answer for SECS seconds after it came (0: only callers
    /// already waiting for it share it)
    #[arg(long, global = true, value_name = "SECS", default_value_t = 0)]
    pub dedupe_ttl: u64,

    /// With --redis and --qps: how many processes share the budget; while Redis is unreachable
    /// each one limits itself to qps / N
    #[arg(long, global = true, value_name = "N", default_value_t = 1)]
    pub expected_replicas: u32,

    /// The audit ledger: a SQLite file (created 0600) or postgres://… . Every check is recorded
    /// (no number in clear); a check the ledger cannot record is refused before it is sent. A
    /// URL may hold a password: never printed, but a flag shows in `ps`, so prefer JUHE_LEDGER
    #[arg(
        long,
        env = "JUHE_LEDGER",
        hide_env_values = true,
        global = true,
        value_name = "FILE|URL"
    )]
    pub ledger: Option<String>,

    /// Send checks even when the ledger cannot record them (warned, unrecorded)
    #[arg(long, global = true)]
    pub ledger_optional: bool,

    /// Who checks, recorded with every check (`ledger export`/`stats`: the flag selects this
    /// caller's records)
    #[arg(long, env = "JUHE_CALLER", global = true, value_name = "NAME")]
    pub caller: Option<String>,

    /// Why people are checked, recorded with every check
    #[arg(long, env = "JUHE_PURPOSE", global = true, value_name = "TEXT")]
    pub purpose: Option<String>,

    /// A hard spend budget, N/day or N/month (calendar, China time; repeatable): a check that
    /// would exceed it is refused before sending (exit 6). Shared by every process with --redis
    #[arg(long, env = "JUHE_BUDGET", global = true, value_name = "N/day|N/month", value_delimiter = ',', action = ArgAction::Append)]
    pub budget: Vec<String>,

    /// Time allowed for each whole check (attempts, back-off, rate and fleet waits); --timeout
    /// bounds one attempt
    #[arg(long, global = true, value_name = "SECS")]
    pub deadline: Option<f64>,

    /// Which SDK client `verify` uses (`--transport` is an old name). `batch` always runs on
    /// the async client, `doctor` on the blocking one: they refuse it
    #[arg(long, alias = "transport", global = true, value_enum, default_value_t = ClientArg::Async)]
    pub client: ClientArg,

    /// Send through this proxy: http://, https:// or socks5://[user:password@]host[:port].
    /// Its password is never printed, but a flag shows in `ps`: prefer JUHE_PROXY for one
    #[arg(
        long,
        env = "JUHE_PROXY",
        hide_env_values = true,
        global = true,
        value_name = "URL"
    )]
    pub proxy: Option<String>,

    /// Trust this root CA too (a PEM file; repeatable): e.g. the CA of a proxy that inspects TLS
    #[arg(long, global = true, value_name = "FILE", action = ArgAction::Append)]
    pub ca_cert: Vec<PathBuf>,

    /// Trust only the --ca-cert roots, not the built-in (Mozilla) ones
    #[arg(long, global = true)]
    pub no_built_in_roots: bool,

    /// Language of the messages (not of --json) [default: zh when JUHE_LANG, else LC_ALL, else
    /// LANG starts with zh; en otherwise]
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "en|zh",
        ignore_case = true
    )]
    pub lang: Option<crate::lang::Lang>,

    /// Machine-readable JSON output
    #[arg(long, global = true)]
    pub json: bool,

    /// More logging on stderr (-v info, -vv debug); RUST_LOG works too
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

/// The commands, by name as typed (`help` aside).
pub const COMMANDS: [&str; 9] = [
    "verify", "check", "batch", "encrypt", "doctor", "sandbox", "demo", "ledger", "serve",
];

/// Why the [`Global`] option `option` (its clap id, e.g. `dedupe_ttl`) does not apply to
/// `command`, or `None` when the command uses it. The one table behind the refusals, each
/// command's `--help` and docs/cli.md ("Which command takes which option").
pub fn not_applying(command: &str, option: &str) -> Option<&'static str> {
    const FLEET: &str = "it sends each check itself, never through the fleet's shared answers \
                         or budget";
    match (command, option) {
        // Output and logging: every command prints and may log.
        (_, "json" | "verbose" | "lang") => None,
        ("verify", _) => None,
        ("batch", "client") => Some("it always runs on the async client"),
        ("batch", _) => None,
        ("doctor", "client") => Some("it always runs on the blocking client"),
        ("doctor", "retries") => Some("it sends each scheme once, never retried"),
        ("doctor", "aes_mode" | "aes_iv") => {
            Some("it tries the AES schemes itself: ecb, cbc-same-as-key, cbc-zero")
        }
        ("doctor", "qps" | "redis" | "dedupe_ttl" | "expected_replicas") => Some(FLEET),
        ("doctor", "deadline") => Some("it sends each scheme once, bounded by --timeout"),
        ("doctor", _) => None,
        ("ledger", "ledger" | "caller") => None,
        ("ledger", "ledger_optional" | "purpose" | "budget" | "deadline") => {
            Some("it reads and prunes the ledger; it records no check")
        }
        ("ledger", _) => Some("it reads and prunes the ledger; it sends nothing"),
        ("encrypt", "mode" | "openid" | "aes_key" | "aes_mode" | "aes_iv" | "rsa_public_key") => {
            None
        }
        ("encrypt", _) => Some("it sends nothing: it prints what --mode would send"),
        ("sandbox", "key" | "openid" | "aes_key" | "aes_mode" | "aes_iv") => None,
        ("sandbox", "key_file") => {
            Some("it takes the keys it accepts from --key (repeatable) or JUHE_KEY")
        }
        ("sandbox", "mode") => Some("it serves all three endpoints"),
        ("sandbox", "rsa_public_key") => Some("it decrypts with --rsa-private-key"),
        ("sandbox", "method") => Some("it answers both POST and GET"),
        ("sandbox", "base_url") => Some("it listens on --addr"),
        ("sandbox", "qps") => Some("it sends nothing; its own limit is --qps-limit"),
        ("sandbox", _) => Some("it is the server and sends nothing"),
        ("serve", "client") => Some("it always runs on the async client"),
        ("serve", "caller" | "purpose") => {
            Some("each request's caller is the one its token names, its purpose the request's own")
        }
        ("serve", _) => None,
        ("check", _) => Some("it validates locally and sends nothing"),
        ("demo", _) => Some("it runs its own in-process sandbox with the demo key and keys"),
        // Not a command of ours (clap's `help`): nothing to refuse.
        _ => None,
    }
}

/// The command line as parsed: [`Cli`] with, in each command, a hidden copy of every global
/// option that does not apply to it. Clap does not propagate a global option into a command
/// that defines one of the same id, so the command's `--help` lists only the options it uses;
/// the copy still parses (before or after the command, as before), so [`refuse_unused`] can
/// name the option and the command instead of clap's bare "unexpected argument".
pub fn command() -> clap::Command {
    // The global options under their own heading, after the command's own.
    let cli = Cli::command().mut_args(|a| {
        if a.is_global_set() {
            a.help_heading("Global options")
        } else {
            a
        }
    });
    let globals: Vec<clap::Arg> = cli
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    COMMANDS.iter().fold(cli, |cli, name| {
        cli.mut_subcommand(name, |sub| {
            let hide = |cmd: clap::Command| {
                globals
                    .iter()
                    .filter(|a| not_applying(name, a.get_id().as_str()).is_some())
                    .fold(cmd, |cmd, a| cmd.arg(a.clone().global(false).hide(true)))
            };
            // A command's own subcommands (`ledger export`) get the copies too: a non-global
            // copy in the parent stops clap's propagation of the global option.
            let nested: Vec<String> = sub
                .get_subcommands()
                .map(|s| s.get_name().to_owned())
                .collect();
            nested
                .iter()
                .fold(hide(sub), |sub, n| sub.mut_subcommand(n, hide))
        })
    })
}

/// A usage error for every global option given as a flag (before or after the command) that
/// the command would ignore. Environment variables are not flags: people export them once for
/// every command, so one a command does not use is no error.
pub fn refuse_unused(command: &clap::Command, matches: &ArgMatches) -> Result<(), CliError> {
    let Some((name, sub)) = matches.subcommand() else {
        return Ok(());
    };
    // The command's matches and those of its own subcommand (`ledger export`).
    let levels: Vec<&ArgMatches> = [matches, sub]
        .into_iter()
        .chain(sub.subcommand().map(|(_, nested)| nested))
        .collect();
    let given = |id: &str| {
        levels
            .iter()
            .any(|m| m.value_source(id) == Some(ValueSource::CommandLine))
    };
    // (reason, flags) in the order of the options, one entry per reason.
    let mut refused: Vec<(&str, Vec<String>)> = Vec::new();
    for arg in command.get_arguments().filter(|a| a.is_global_set()) {
        let id = arg.get_id().as_str();
        let Some(why) = not_applying(name, id).filter(|_| given(id)) else {
            continue;
        };
        let flag = format!("--{}", arg.get_long().unwrap_or(id));
        match refused.iter_mut().find(|(w, _)| *w == why) {
            Some((_, flags)) => flags.push(flag),
            None => refused.push((why, vec![flag])),
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    let message = refused
        .iter()
        .map(|(why, flags)| {
            crate::lang::not_applying(&flags.join(", "), flags.len() > 1, name, why)
        })
        .collect::<Vec<_>>()
        .join("; ");
    let them = if refused.len() == 1 && refused[0].1.len() == 1 {
        "it"
    } else {
        "them"
    };
    Err(CliError::usage(message).with_hint(crate::lang::not_applying_hint(them, name)))
}

fn parse_aes_mode(s: &str) -> Result<AesMode, String> {
    s.parse().map_err(|e: juhe_2fa::CryptoError| e.to_string())
}

fn parse_iv(s: &str) -> Result<IvPolicy, String> {
    s.parse().map_err(|e: juhe_2fa::CryptoError| e.to_string())
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// /telecom2Cucc/query
    Plain,
    /// /telecom2Cucc/queryEncry
    Aes,
    /// /telecom2Cucc/queryRV2
    Rsa,
}

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Form POST (default)
    Post,
    /// GET with the parameters in the URL
    Get,
}

/// `--client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientArg {
    /// Client on tokio + reqwest
    Async,
    /// BlockingClient on ureq
    Blocking,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check one pair with the API (costs one call)
    Verify {
        /// ID card number (18 characters)
        #[arg(long, value_name = "ID")]
        idcard: String,
        /// Mobile number
        #[arg(long, value_name = "M")]
        mobile: String,
    },
    /// Validate locally only; never sends anything
    Check {
        /// ID card number
        #[arg(long, value_name = "ID", requires = "mobile", conflicts_with = "input")]
        idcard: Option<String>,
        /// Mobile number
        #[arg(long, value_name = "M", requires = "idcard", conflicts_with = "input")]
        mobile: Option<String>,
        /// CSV (header with idcard, mobile), JSONL (*.jsonl) or Excel (*.xlsx) file
        #[arg(long, value_name = "FILE", required_unless_present_any = ["idcard", "mobile"])]
        input: Option<PathBuf>,
        /// The input's text encoding
        #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
        encoding: EncodingArg,
        /// The sheet of an .xlsx input to read [default: the first]
        #[arg(long, value_name = "NAME", requires = "input")]
        sheet: Option<String>,
    },
    /// Check every row of a file; resumable with a journal
    Batch(BatchArgs),
    /// Print what the configured mode would send for a value
    Encrypt {
        /// The plain value
        #[arg(long, value_name = "V")]
        value: String,
    },
    /// Find which scheme the account accepts, with your real key (a few calls, at most one billed)
    Doctor(DoctorArgs),
    /// Run the local emulator of the API in the foreground
    Sandbox(SandboxArgs),
    /// Run plain, AES and RSA checks against an in-process sandbox
    Demo,
    /// Read, verify and prune the audit ledger (--ledger): export, stats, find, purge, verify
    Ledger(LedgerArgs),
    /// Run the HTTP gateway: one process holds the key, callers check with bearer tokens
    /// (docs/gateway.md)
    Serve(ServeArgs),
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The callers: TOML, one [[caller]] each with name, token_sha256 and optional qps,
    /// budget (["1000/day"]) and purposes
    #[arg(long, value_name = "FILE", required_unless_present_any = ["new_token", "demo"])]
    pub config: Option<PathBuf>,
    /// Try it: the gateway in front of an in-process sandbox (its demo key and fixtures),
    /// with one caller, `demo`, whose token is printed; no key, config or network needed
    #[arg(long, conflicts_with_all = ["config", "new_token", "tls_cert", "tls_key"])]
    pub demo: bool,
    /// Address to listen on
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8787")]
    pub addr: SocketAddr,
    /// Print a fresh bearer token for the caller NAME, once, and the config lines to paste;
    /// then exit
    #[arg(long, value_name = "NAME", conflicts_with_all = ["config", "metrics_addr", "tls_cert", "tls_key"])]
    pub new_token: Option<String>,
    /// Serve /metrics on this address instead of --addr
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,
    /// TLS certificate chain (PEM), with --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM), with --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Connections open at once (at the cap the most stalled one is closed to make room)
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
    /// Threads serving connections, each with its own connections to the API (1-256)
    /// [default: the number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
}

/// `ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

/// `ledger`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Write the records (CSV or JSON lines) to stdout: for the processing record and for
    /// reconciling with Juhe's invoice
    Export {
        /// First day (China time, UTC+8), included
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
        since: Option<juhe_ledger::Day>,
        /// Last day (China time), included
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
        until: Option<juhe_ledger::Day>,
        /// Output format
        #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
        format: FormatArg,
    },
    /// Checks and billed checks per day (China time) and caller
    Stats,
    /// Was this person checked: when, by whom, why (the numbers are digested, not searched)
    Find {
        /// ID card number
        #[arg(long, value_name = "ID")]
        idcard: String,
        /// Mobile number
        #[arg(long, value_name = "M")]
        mobile: String,
    },
    /// Delete the records older than DAYS days [default: 1096, 3 years: PIPL Art. 56]
    Purge {
        /// Retention in days
        #[arg(long, value_name = "DAYS", default_value_t = juhe_ledger::DEFAULT_RETENTION_DAYS)]
        older_than: u32,
    },
    /// Check every record's hash chain: exit 0 when intact, 1 with a report when a record was
    /// edited, deleted or reordered
    Verify,
}

/// `ledger export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// CSV with a header
    Csv,
    /// One JSON object per line
    Jsonl,
}

fn parse_day(s: &str) -> Result<juhe_ledger::Day, String> {
    s.parse()
        .map_err(|e: juhe_ledger::LedgerError| e.to_string())
}

/// `batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// CSV (header with idcard, mobile; other columns pass through), JSONL (*.jsonl) or
    /// Excel (*.xlsx)
    #[arg(long, value_name = "FILE", required_unless_present = "report")]
    pub input: Option<PathBuf>,
    /// The sheet of an .xlsx input to read [default: the first]
    #[arg(long, value_name = "NAME", requires = "input")]
    pub sheet: Option<String>,
    /// Serve the SDK's metrics in the Prometheus text format at http://ADDR/metrics while the
    /// batch runs (checks, billed calls, attempts, latency, budgets; never a number or key)
    #[arg(long, value_name = "HOST:PORT", requires = "input")]
    pub metrics_addr: Option<SocketAddr>,
    /// Where to write the results (same format as the input; Excel when it ends in .xlsx)
    #[arg(long, value_name = "FILE", required_unless_present = "report")]
    pub output: Option<PathBuf>,
    /// SQLite journal for resuming [default: <output>.journal]
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Checks in flight at once
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Re-send rows that may already have been billed (left `sent` by an interrupted run)
    #[arg(long)]
    pub retry_ambiguous: bool,
    /// Send every row, even a pair that came earlier in the job (by default a repeated pair
    /// gets the first row's result and is not sent, or billed, again)
    #[arg(long)]
    pub no_dedupe: bool,
    /// The input's text encoding; the output is written in the same one (BOM kept)
    #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
    pub encoding: EncodingArg,
    /// Prefix for the added columns/keys (`status`, `res`, `order_id`, `error_code`, `reason`)
    /// when the input already has columns or keys of those names
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// CSV output: put a `'` before every cell that starts with = + - @, tab or CR, so a
    /// spreadsheet shows it as text instead of running it as a formula (CSV injection). Off by
    /// default: the output then repeats the input's bytes exactly
    #[arg(long)]
    pub escape_formulas: bool,
    /// Print the order ids and outcomes recorded in a journal, and exit
    #[arg(long, value_name = "JOURNAL", conflicts_with_all = ["input", "output", "journal"])]
    pub report: Option<PathBuf>,
}

/// `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A real ID card number to test with (18 characters)
    #[arg(long, value_name = "ID")]
    pub idcard: String,
    /// A China Unicom mobile number to test with
    #[arg(long, value_name = "M")]
    pub mobile: String,
    /// Do not ask before sending (needed without a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// RSA private key (PEM or base64 DER) for the RSA endpoint [default: the demo key]
    #[arg(long, value_name = "FILE")]
    pub rsa_private_key: Option<PathBuf>,
    /// Fixtures: CSV (idcard,mobile,outcome[,fault]) or JSON (*.json)
    #[arg(long, value_name = "FILE")]
    pub fixtures: Option<PathBuf>,
    /// Answer for valid Unicom pairs not in the fixtures
    #[arg(long, value_name = "V", default_value = "no-record", value_parser = parse_default_verdict)]
    pub default_verdict: DefaultVerdict,
    /// Per-key requests per second before answering 10012
    #[arg(long, value_name = "N")]
    pub qps_limit: Option<u32>,
    /// Fault plan: JSON {"sequence": [...]}, or TOML (*.toml) sequence = [...]
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Write the demo keys (RSA key pair, OpenID, AES key) into DIR, created 0700; refuses a
    /// symlink or existing files
    #[arg(long, value_name = "DIR")]
    pub export_demo_keys: Option<PathBuf>,
    /// Accept only the --key/JUHE_KEY keys, not also the demo key
    #[arg(long)]
    pub no_demo_key: bool,
    /// Log one masked line per request on stderr
    #[arg(long)]
    pub log_requests: bool,
}

fn parse_default_verdict(s: &str) -> Result<DefaultVerdict, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::{COMMANDS, command, not_applying};

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }

    /// A new command must get its row in [`not_applying`] (an unknown name refuses nothing).
    #[test]
    fn every_command_is_in_the_table() {
        let names: Vec<String> = command()
            .get_subcommands()
            .map(|s| s.get_name().to_owned())
            .collect();
        assert_eq!(names, COMMANDS);
    }

    /// Every refusal reason has its Chinese twin in the catalogue.
    #[test]
    fn every_refusal_reason_in_chinese() {
        let ids: Vec<String> = command()
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.get_id().to_string())
            .collect();
        for name in COMMANDS {
            for id in &ids {
                if let Some(why) = not_applying(name, id) {
                    let zh = crate::lang::why_zh(why);
                    assert!(
                        zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                        "{name} {id}: {why}"
                    );
                }
            }
        }
    }

    #[test]
    fn json_and_verbose_apply_everywhere_and_verify_takes_all() {
        let globals: Vec<String> = command()
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.get_id().to_string())
            .collect();
        assert_eq!(globals.len(), 29);
        for name in COMMANDS {
            assert_eq!(not_applying(name, "json"), None);
            assert_eq!(not_applying(name, "verbose"), None);
            assert_eq!(not_applying(name, "lang"), None);
        }
        // The network options go wherever a request is sent, nowhere else.
        for id in ["proxy", "ca_cert", "no_built_in_roots"] {
            let taking: Vec<&str> = COMMANDS
                .into_iter()
                .filter(|c| not_applying(c, id).is_none())
                .collect();
            assert_eq!(taking, ["verify", "batch", "doctor", "serve"], "{id}");
        }
        for id in &globals {
            assert_eq!(not_applying("verify", id), None, "{id}");
        }
    }
}
