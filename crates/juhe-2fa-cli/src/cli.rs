//! The command line: flags, environment variables, commands (see docs/cli.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use juhe_2fa::{AesMode, IvPolicy};
use juhe_sandbox::DefaultVerdict;

use crate::encoding::EncodingArg;

/// Check whether an ID card number owns a China Unicom mobile number (Juhe 二要素核验).
#[derive(Debug, Parser)]
#[command(
    name = "juhe-2fa",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options for every command. Flags win over environment variables.
#[derive(Debug, Args)]
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

    /// Which SDK client `verify` uses (`--transport` is an old name). `batch` always runs on
    /// the async client; `doctor` on the blocking one
    #[arg(long, alias = "transport", global = true, value_enum, default_value_t = ClientArg::Async)]
    pub client: ClientArg,

    /// Machine-readable JSON output
    #[arg(long, global = true)]
    pub json: bool,

    /// More logging on stderr (-v info, -vv debug); RUST_LOG works too
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
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
        /// CSV (header with idcard, mobile) or JSONL (*.jsonl) file
        #[arg(long, value_name = "FILE", required_unless_present_any = ["idcard", "mobile"])]
        input: Option<PathBuf>,
        /// The input's text encoding
        #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
        encoding: EncodingArg,
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
}

/// `batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// CSV (header with idcard, mobile; other columns pass through) or JSONL (*.jsonl)
    #[arg(long, value_name = "FILE", required_unless_present = "report")]
    pub input: Option<PathBuf>,
    /// Where to write the results (same format as the input)
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
