//! The language of what the command prints for people (`--lang`, `JUHE_LANG`, `LC_ALL`,
//! `LANG`), and the command's own texts in English and Chinese: one catalogue. The SDK's
//! (`Error::message_zh`, `Error::hint_zh`) and the batch library's (row reasons) are theirs.
//! `--json` keys and machine values (status names, error kinds, codes) stay English.

use std::cell::Cell;
use std::sync::OnceLock;

use clap::ValueEnum;

/// `--lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// English
    En,
    /// Simplified Chinese (简体中文)
    Zh,
}

static CURRENT: OnceLock<Lang> = OnceLock::new();

thread_local! {
    /// Set while [`in_english`] runs: `--json` values stay English whatever the language.
    static ENGLISH: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the catalogue in English on this thread (for a `--json` value).
pub fn in_english<T>(f: impl FnOnce() -> T) -> T {
    ENGLISH.with(|e| e.set(true));
    let value = f();
    ENGLISH.with(|e| e.set(false));
    value
}

impl Lang {
    /// The flag, else the first of `JUHE_LANG`, `LC_ALL`, `LANG` that is set and not empty:
    /// a value starting with `zh` (`zh`, `zh_CN.UTF-8`, `zh-Hans`) is Chinese, anything else
    /// English.
    pub fn detect(flag: Option<Lang>, env: impl Fn(&str) -> Option<String>) -> Lang {
        if let Some(lang) = flag {
            return lang;
        }
        let value = ["JUHE_LANG", "LC_ALL", "LANG"]
            .iter()
            .filter_map(|name| env(name))
            .find(|v| !v.trim().is_empty());
        match value {
            Some(v) if v.trim().to_ascii_lowercase().starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// The `--lang` value in raw arguments (`--lang zh`, `--lang=ZH`), for an error found
    /// before they parse; the last one wins, as clap's would.
    pub fn from_args(args: &[String]) -> Option<Lang> {
        let mut found = None;
        for (i, arg) in args.iter().enumerate() {
            let value = match arg.strip_prefix("--lang") {
                Some("") => args.get(i + 1).map(String::as_str),
                Some(rest) => rest.strip_prefix('='),
                None => None,
            };
            found = match value.map(str::to_ascii_lowercase).as_deref() {
                Some("zh") => Some(Lang::Zh),
                Some("en") => Some(Lang::En),
                _ => found,
            };
        }
        found
    }

    /// Sets the language of this run (once, at the start).
    pub fn set(self) {
        let _ = CURRENT.set(self);
    }

    /// The language of this run (English until set).
    pub fn current() -> Lang {
        if ENGLISH.with(Cell::get) {
            return Lang::En;
        }
        CURRENT.get().copied().unwrap_or(Lang::En)
    }

    /// The batch library's language for row reasons.
    pub fn batch(self) -> juhe_batch::Lang {
        match self {
            Lang::En => juhe_batch::Lang::En,
            Lang::Zh => juhe_batch::Lang::Zh,
        }
    }
}

/// `en` or `zh` by the run's language.
fn pick<T>(en: T, zh: T) -> T {
    match Lang::current() {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// The words around an error and its hint on stderr.
pub fn error_prefix() -> &'static str {
    pick("error: ", "错误：")
}

pub fn hint_prefix() -> &'static str {
    pick("hint: ", "提示：")
}

pub fn warning_prefix() -> &'static str {
    pick("warning: ", "警告：")
}

/// A Chinese lead for a message the catalogue has no Chinese text for: what kind of failure
/// it is, by exit code (the English detail follows it).
pub fn category_zh(exit: crate::error::Exit) -> &'static str {
    use crate::error::Exit;
    match exit {
        Exit::Usage => "用法或配置错误",
        Exit::Rejected => "本地校验未通过，未发送",
        Exit::Api => "接口返回错误",
        Exit::Budget => "预算已用完，未发送",
        Exit::Ok | Exit::Mismatch | Exit::Failure => "运行失败",
    }
}

/// A failed check as the command prints it: in Chinese what happened for the operator
/// (`juhe_batch::error_zh`, as a batch row's reason says it) with the technical detail in
/// brackets; and the SDK's hint.
pub fn check_error(e: &juhe_2fa::Error) -> (String, Option<&'static str>) {
    match Lang::current() {
        Lang::En => (crate::error::chain(e), e.hint()),
        Lang::Zh => (juhe_batch::error_zh(e), e.hint_zh()),
    }
}

/// The verdict's word: `match`/`mismatch` stay (they are the `status` values people grep), a
/// Chinese gloss follows in Chinese.
pub fn verdict(v: juhe_2fa::Verdict) -> String {
    let zh = if v.as_str() == "match" {
        "一致"
    } else {
        "不一致"
    };
    pick(v.as_str().to_owned(), format!("{zh}（{}）", v.as_str()))
}

/// `verify`'s line for an answer.
pub fn verify_line(v: &juhe_2fa::Verification, latency_ms: f64) -> String {
    let (res, order, mode, attempts) = (v.res(), &v.order_id, v.mode, v.attempts);
    let verdict = verdict(v.verdict);
    pick(
        format!(
            "{verdict} (res {res}), order {order}, via {mode} in {latency_ms:.0} ms, {attempts} attempt(s)"
        ),
        format!(
            "{verdict}（res {res}），订单号 {order}，经 {mode} 接口，用时 {latency_ms:.0} 毫秒，共尝试 {attempts} 次"
        ),
    )
}

/// The Chinese lead and hint for an error clap found in the command line (clap's English
/// detail is printed between them).
pub fn parse_error_zh(kind: clap::error::ErrorKind) -> (&'static str, &'static str) {
    use clap::error::ErrorKind as K;
    let lead = match kind {
        K::MissingRequiredArgument => "缺少必需的选项",
        K::UnknownArgument => "无法识别的选项或参数",
        K::InvalidValue | K::ValueValidation | K::InvalidUtf8 => "选项的值无效",
        K::InvalidSubcommand => "没有这个命令",
        K::MissingSubcommand | K::DisplayHelpOnMissingArgumentOrSubcommand => "缺少命令",
        K::ArgumentConflict => "这些选项不能同时使用",
        K::NoEquals | K::TooManyValues | K::TooFewValues | K::WrongNumberOfValues => {
            "选项的值个数不对"
        }
        _ => "命令行有误",
    };
    (
        lead,
        "上面的英文说明来自命令行解析库；`juhe-2fa --help` 列出所有命令，`juhe-2fa <命令> --help` 列出该命令接受的选项",
    )
}

// ---- check ----

pub fn check_field(field: &str, problem: &str) -> String {
    let name = match (field, Lang::current()) {
        (_, Lang::En) => field,
        ("idcard", Lang::Zh) => "身份证号",
        (_, Lang::Zh) => "手机号",
    };
    pick(format!("{name}: {problem}"), format!("{name}：{problem}"))
}

pub fn check_missing(field: &str) -> String {
    pick(format!("no {field}"), format!("缺少 {field}"))
}

pub fn check_not_unicom(carrier: juhe_2fa::Carrier, code: i32) -> String {
    pick(
        format!("belongs to {carrier}; the API answers only for China Unicom ({code})"),
        format!(
            "属于{}；本接口只核验中国联通号码（{code}）",
            carrier.zh_name()
        ),
    )
}

pub fn check_valid() -> &'static str {
    pick("valid, China Unicom", "有效，中国联通")
}

pub fn check_joiner() -> &'static str {
    pick("; ", "；")
}

pub fn check_line(line: u64, text: &str) -> String {
    pick(
        format!("line {line}: {text}"),
        format!("第 {line} 行：{text}"),
    )
}

pub fn check_summary(rows: u64, valid: u64, unsupported: u64, invalid: u64) -> String {
    pick(
        format!(
            "{rows} rows: {valid} valid ({unsupported} of them not China Unicom), {invalid} invalid"
        ),
        format!(
            "共 {rows} 行：有效 {valid} 行（其中 {unsupported} 行不是中国联通号码），无效 {invalid} 行"
        ),
    )
}

pub fn spanning_lines(records: u64) -> String {
    pick(
        format!(
            "{records} record(s) have a field spanning lines: a stray quote may have merged lines"
        ),
        format!("有 {records} 条记录的某个字段跨了多行：可能是多余的引号把几行合并了"),
    )
}

pub fn batch_spanning_lines(records: u64) -> String {
    pick(
        format!(
            "{records} record(s) have a field spanning lines, as a stray quote makes: \
             `juhe-2fa check --input FILE` lists them"
        ),
        format!(
            "有 {records} 条记录的某个字段跨了多行（多余的引号会造成这种情况）：\
             `juhe-2fa check --input FILE` 会列出这些行"
        ),
    )
}

// ---- batch ----

pub struct BatchCounts<'a> {
    pub rows: u64,
    pub elapsed_s: f64,
    pub rows_per_s: f64,
    pub by_status: &'a str,
    pub billable: u64,
    pub billable_this_run: u64,
}

pub fn batch_summary(c: &BatchCounts<'_>) -> String {
    let BatchCounts {
        rows,
        elapsed_s,
        rows_per_s,
        by_status,
        billable,
        billable_this_run,
    } = c;
    pick(
        format!(
            "batch: {rows} rows in {elapsed_s:.1} s ({rows_per_s:.0} rows/s): {by_status}; billable calls {billable} ({billable_this_run} this run)"
        ),
        format!(
            "批量核验：{rows} 行，用时 {elapsed_s:.1} 秒（每秒 {rows_per_s:.0} 行）：{by_status}；计费调用 {billable} 次（本次运行 {billable_this_run} 次）"
        ),
    )
}

pub fn batch_progress(done: u64, total: u64, rate: f64, counts: &str) -> String {
    pick(
        format!("batch: {done}/{total} rows, {rate:.0} rows/s, {counts}"),
        format!("批量核验：{done}/{total} 行，每秒 {rate:.0} 行，{counts}"),
    )
}

/// The progress bar's template (indicatif), with or without a known total.
pub fn progress_template(total: bool) -> &'static str {
    match total {
        true => pick(
            "{bar:30} {pos}/{len} ETA {eta} {msg}",
            "{bar:30} {pos}/{len} 预计剩余 {eta} {msg}",
        ),
        false => pick("{spinner} {pos} rows {msg}", "{spinner} {pos} 行 {msg}"),
    }
}

pub fn progress_message(rate: f64, counts: &str) -> String {
    pick(
        format!("{rate:.0} rows/s, {counts}"),
        format!("每秒 {rate:.0} 行，{counts}"),
    )
}

pub fn batch_files(output: &std::path::Path, journal: &std::path::Path) -> String {
    let (output, journal) = (output.display(), journal.display());
    pick(
        format!("output: {output}  journal: {journal}"),
        format!("输出文件：{output}  日志（journal）：{journal}"),
    )
}

pub fn batch_duplicates(n: u64) -> String {
    pick(
        format!(
            "{n} row(s) repeated an earlier pair: they got its result and were not sent again (--no-dedupe to send them)"
        ),
        format!(
            "{n} 行与前面某行的号码相同：沿用了那一行的结果，没有再次发送，也没有再次计费（如需发送，请加 --no-dedupe）"
        ),
    )
}

pub fn batch_reused(n: u64) -> String {
    pick(
        format!(
            "{n} row(s) got another process's answer for the same pair through Redis: not sent, not billed to this run"
        ),
        format!("{n} 行经 Redis 取得了另一进程对同一组号码的结果：未发送，本次运行未计费"),
    )
}

pub fn batch_not_final(n: u64) -> String {
    pick(
        format!(
            "{n} row(s) not final: rerun the same command to retry `failed` rows; `unknown` rows may have been billed and are resent only with --retry-ambiguous"
        ),
        format!(
            "{n} 行尚未完成：重新运行同一命令即可重试 `failed` 行；`unknown` 行可能已计费，只有加 --retry-ambiguous 才会重新发送"
        ),
    )
}

pub fn batch_stopped(why_en: &str, why_zh: Option<&str>) -> String {
    pick(
        format!("the job stopped: {why_en}"),
        format!("任务已停止：{}", why_zh.unwrap_or(why_en)),
    )
}

pub fn batch_stopped_hint(budget: bool) -> &'static str {
    match budget {
        true => pick(
            "rerun the same command after the budget resets (or with a larger --budget, if the spend is intended): finished rows are not sent again",
            "预算重置后重新运行同一命令（确需多花费时可调大 --budget）：已完成的行不会再次发送",
        ),
        false => pick(
            "fix the account or key, then rerun the same command: finished rows are not sent again",
            "先修正账户或密钥，再重新运行同一命令：已完成的行不会再次发送",
        ),
    }
}

pub fn batch_interrupted() -> (&'static str, &'static str) {
    (
        pick(
            "interrupted: rows in flight finished and were recorded; no output was written",
            "已中断：正在发送的行已完成并记入日志；未写出输出文件",
        ),
        pick(
            "rerun the same command to finish the job",
            "重新运行同一命令即可完成任务",
        ),
    )
}

pub fn batch_stopping() -> &'static str {
    pick(
        "stopping: sending nothing new, waiting for requests in flight (at most --timeout); press Ctrl-C again to quit at once",
        "正在停止：不再发送新请求，等待已发出的请求完成（最多 --timeout 秒）；再按一次 Ctrl-C 立即退出",
    )
}

pub fn journal_report(path: &std::path::Path, counts: &str) -> String {
    pick(
        format!("journal {}: {counts}", path.display()),
        format!("日志 {}：{counts}", path.display()),
    )
}

/// The Chinese twin of a batch library error's hint (`error.rs` has the English ones).
pub fn batch_hint_zh(e: &juhe_batch::Error) -> Option<&'static str> {
    use juhe_batch::Error as E;
    Some(match e {
        E::Utf16 { .. } => "请另存为 UTF-8 或 GBK（Excel：另存为 →“CSV UTF-8”）",
        E::MissingColumns { .. } => "第一行必须是列名，例如 `name,idcard,mobile`",
        E::NoSheet { .. } => "请用 --sheet 名称 指定上面列出的某个工作表",
        E::NotWorkbook { .. } => "--sheet 只适用于 .xlsx 输入",
        E::XlsxFromJsonl { .. } => "把输出文件命名为 .jsonl，或先把输入转换为 CSV 或 .xlsx",
        E::NameClash { .. } => "请重命名该列，或加 --prefix（例如 --prefix juhe_）给新增的列加前缀",
        E::InUse { .. } => "请等它运行完，或给这次运行另指定 --journal 和 --output",
        E::Unsafe { .. } => {
            "如果该文件是你的并且可信，请 `chmod 600`（符号链接：请直接指定文件本身）；否则删除它，或在只有你能写入的目录中另指定 --journal/--output"
        }
        E::OtherInput { .. } => {
            "两次运行之间只有从未发送（rejected）的行可以修改；新的输入文件请使用新的 --journal"
        }
        E::Foreign { .. } => "请删除它，或把输出写到只有你能写入的目录中",
        E::Write { .. } => {
            "所有已答复的行都在日志中：腾出磁盘空间（或修正输出路径）后重新运行同一命令；它会写出输出文件，不会再次发送这些行"
        }
        _ => return None,
    })
}

// ---- options ----

pub fn not_applying(flags: &str, plural: bool, command: &str, why: &str) -> String {
    let verb = if plural { "do" } else { "does" };
    pick(
        format!("{flags} {verb} not apply to `{command}` ({why})"),
        format!("{flags} 不适用于 `{command}`（{}）", why_zh(why)),
    )
}

/// The Chinese twin of a reason in `cli::not_applying` (a unit test walks the table).
pub fn why_zh(why: &str) -> &str {
    match why {
        "it sends each check itself, never through the fleet's shared answers or budget" => {
            "它自己发送每次核验，从不经过集群共享的答复或预算"
        }
        "it always runs on the async client" => "它总是使用异步客户端",
        "each request's caller is the one its token names, its purpose the request's own" => {
            "每个请求的调用方由其令牌确定，用途由请求自己给出"
        }
        "it always runs on the blocking client" => "它总是使用阻塞客户端",
        "it sends each scheme once, never retried" => "每个方案只发送一次，从不重试",
        "it tries the AES schemes itself: ecb, cbc-same-as-key, cbc-zero" => {
            "它会自己逐一尝试 AES 方案：ecb、cbc-same-as-key、cbc-zero"
        }
        "it sends each scheme once, bounded by --timeout" => {
            "每个方案只发送一次，时长受 --timeout 限制"
        }
        "it reads and prunes the ledger; it records no check" => {
            "它只读取和清理审计台账，不记录核验"
        }
        "it reads and prunes the ledger; it sends nothing" => {
            "它只读取和清理审计台账，不发送任何请求"
        }
        "it sends nothing: it prints what --mode would send" => {
            "它不发送任何请求：只打印 --mode 模式下会发送的内容"
        }
        "it takes the keys it accepts from --key (repeatable) or JUHE_KEY" => {
            "它接受的密钥来自 --key（可重复）或 JUHE_KEY"
        }
        "it serves all three endpoints" => "它同时提供三个接口",
        "it decrypts with --rsa-private-key" => "它用 --rsa-private-key 解密",
        "it answers both POST and GET" => "它同时响应 POST 和 GET",
        "it listens on --addr" => "它监听 --addr",
        "it sends nothing; its own limit is --qps-limit" => {
            "它不发送任何请求；它自己的限速是 --qps-limit"
        }
        "it is the server and sends nothing" => "它是服务端，不发送任何请求",
        "it validates locally and sends nothing" => "它只在本地校验，不发送任何请求",
        "it runs its own in-process sandbox with the demo key and keys" => {
            "它使用演示密钥在进程内运行自己的沙箱"
        }
        other => other,
    }
}

/// A proxy URL's problem (`Proxy::parse`) in the run's language.
fn proxy_problem(problem: &str) -> &str {
    match (Lang::current(), problem) {
        (Lang::En, _) => problem,
        (Lang::Zh, "not a URL") => "不是 URL",
        (Lang::Zh, "the scheme is not http, https or socks5") => "协议不是 http、https 或 socks5",
        (Lang::Zh, "no scheme (write http://host:port)") => "缺少协议（请写成 http://主机:端口）",
        (Lang::Zh, "no host") => "缺少主机",
        (Lang::Zh, "a proxy URL has no path or query") => "代理地址不能带路径或查询参数",
        (Lang::Zh, other) => other,
    }
}

pub fn not_applying_hint(them: &str, command: &str) -> String {
    pick(
        format!(
            "leave {them} out; `juhe-2fa {command} --help` lists the options `{command}` takes (an \
             environment variable such as JUHE_KEY is never refused)"
        ),
        format!(
            "请去掉这些选项；`juhe-2fa {command} --help` 列出 `{command}` 接受的选项（JUHE_KEY 等环境变量不会被拒绝）"
        ),
    )
}

pub fn no_api_key() -> (&'static str, &'static str) {
    (
        pick("no API key", "没有 API 密钥"),
        pick(
            "set JUHE_KEY, or pass --key-file FILE or --key - (stdin); try `juhe-2fa sandbox` and its demo key to experiment",
            "请设置 JUHE_KEY，或使用 --key-file 文件 或 --key -（从标准输入读取）；想先试用，可运行 `juhe-2fa sandbox` 并使用其演示密钥",
        ),
    )
}

pub fn aes_key_hint() -> &'static str {
    pick(
        "give 16, 24 or 32 bytes, or hex:… / base64:…",
        "请给出 16、24 或 32 个字节，或 hex:… / base64:… 形式的密钥",
    )
}

pub fn aes_iv_ecb_hint() -> &'static str {
    pick(
        "drop --aes-iv (ECB has no IV), or pass --aes-mode cbc",
        "请去掉 --aes-iv（ECB 没有 IV），或改用 --aes-mode cbc",
    )
}

pub fn openid_and_aes_key_hint() -> &'static str {
    pick(
        "the vendor's scheme derives the key from --openid; drop --aes-key",
        "聚合的加密方案由 --openid 推导密钥；请去掉 --aes-key",
    )
}

pub fn missing_aes_key_hint() -> &'static str {
    pick(
        "pass --openid OPENID (or set JUHE_OPENID) with the OpenID from the Juhe console; \
         --aes-key K only for an account set up with a literal AES key",
        "请用 --openid 你的OpenID（或环境变量 JUHE_OPENID）给出聚合控制台「个人中心」中的 OpenID；\
         只有账户配置为使用固定 AES 密钥时才用 --aes-key",
    )
}

pub fn missing_rsa_key_hint() -> &'static str {
    pick(
        "pass --rsa-public-key FILE|PEM|B64 or set JUHE_RSA_PUBLIC_KEY",
        "请用 --rsa-public-key 文件|PEM|Base64 给出聚合的 RSA 公钥，或设置 JUHE_RSA_PUBLIC_KEY",
    )
}

pub fn ledger_unusable_hint() -> &'static str {
    pick(
        "no check is sent unrecorded: fix --ledger / JUHE_LEDGER, or pass --ledger-optional \
         to send anyway",
        "不会发送无法记录的核验：请修正 --ledger / JUHE_LEDGER，或加 --ledger-optional 照常发送",
    )
}

pub fn ledger_caller_hint() -> &'static str {
    pick(
        "leave --caller out of this `ledger` command",
        "请在这个 `ledger` 命令中去掉 --caller",
    )
}

pub fn bad_proxy(problem: &str) -> String {
    pick(
        format!("--proxy: {problem}"),
        format!("--proxy 不是有效的代理地址：{}", proxy_problem(problem)),
    )
}

pub fn bad_proxy_hint() -> &'static str {
    pick(
        "write http://host:port, https://host:port or socks5://host:port (user:password@ before the host if the proxy needs it, prefer JUHE_PROXY then; in the user name and password write @ as %40, : as %3A, / as %2F, % as %25 and other non-ASCII characters percent-encoded in UTF-8)",
        "请写成 http://主机:端口、https://主机:端口 或 socks5://主机:端口（代理需要认证时在主机前加 用户名:密码@，此时建议用 JUHE_PROXY 环境变量；用户名和密码中的 @ 写成 %40，: 写成 %3A，/ 写成 %2F，% 写成 %25，中文等非 ASCII 字符按 UTF-8 百分号编码）",
    )
}

pub fn ca_unreadable(path: &std::path::Path, e: &std::io::Error) -> String {
    pick(
        format!("cannot read --ca-cert {}: {e}", path.display()),
        format!("无法读取 --ca-cert {}：{e}", path.display()),
    )
}

pub fn ca_not_pem(path: &std::path::Path) -> String {
    pick(
        format!(
            "--ca-cert {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ),
        format!(
            "--ca-cert {} 中没有 PEM 格式的证书（-----BEGIN CERTIFICATE-----）",
            path.display()
        ),
    )
}

pub fn ca_hint() -> &'static str {
    pick(
        "give the root CA certificate in PEM (a DER .cer/.crt converts with `openssl x509 -inform der -in ca.cer -out ca.pem`)",
        "请提供 PEM 格式的根 CA 证书（DER 格式的 .cer/.crt 可用 `openssl x509 -inform der -in ca.cer -out ca.pem` 转换）",
    )
}

pub fn roots_without_ca() -> (&'static str, &'static str) {
    (
        pick(
            "--no-built-in-roots needs --ca-cert: without a root no server can be trusted",
            "--no-built-in-roots 需要同时提供 --ca-cert：没有任何根证书就无法信任任何服务器",
        ),
        pick(
            "pass --ca-cert FILE with your CA (e.g. the TLS-inspecting proxy's), or drop --no-built-in-roots",
            "请用 --ca-cert 文件 提供你的 CA 证书（例如做 TLS 检查的代理的 CA），或去掉 --no-built-in-roots",
        ),
    )
}

// ---- demo ----

/// `demo`'s first line and its table's header.
pub fn demo_intro() -> (&'static str, &'static str) {
    (
        pick(
            "juhe-2fa demo: an in-process sandbox, its demo key, keys and fixtures (no network)",
            "juhe-2fa 演示：进程内的沙箱（模拟聚合接口），使用演示密钥和演示号码（不联网）",
        ),
        pick(
            "mode   client    verdict   order id                    latency",
            "模式   客户端    结果      订单号                         用时",
        ),
    )
}

pub fn demo_summary(requests: u64, billed: u64) -> String {
    pick(
        format!(
            "{requests} requests, {billed} billed by the sandbox. The first request of each client includes connection setup."
        ),
        format!(
            "共 {requests} 次请求，沙箱计费 {billed} 次。每种客户端的第一次请求包含建立连接的时间。"
        ),
    )
}

pub fn demo_next(verify: &str) -> String {
    pick(
        format!("Next: `juhe-2fa sandbox`, then `{verify}`"),
        format!("下一步：运行 `juhe-2fa sandbox`，然后在另一个终端运行 `{verify} --lang zh`"),
    )
}

// ---- ledger ----

pub fn ledger_missing(location: &str) -> String {
    pick(
        format!("no ledger at {location}"),
        format!("{location} 处没有审计台账"),
    )
}

pub fn ledger_optional_warning(problem: &str) -> String {
    pick(
        format!("{problem}; --ledger-optional: checks are sent unrecorded"),
        format!("无法使用审计台账（{problem}）；已加 --ledger-optional：核验照常发送，但不记录"),
    )
}

pub fn ledger_exported(n: u64) -> String {
    pick(
        format!("exported {n} record(s)"),
        format!("已导出 {n} 条记录"),
    )
}

pub fn ledger_purged(n: u64, days: u32) -> String {
    pick(
        format!("purged {n} record(s) older than {days} day(s)"),
        format!("已删除 {n} 条超过 {days} 天的记录"),
    )
}

pub fn ledger_stats_header() -> &'static str {
    pick(
        "day (UTC+8)  caller                checks  billed   maybe  rejected",
        "日期(UTC+8)  调用方                  核验    计费 可能计费  本地拒绝",
    )
}

pub fn ledger_found(pair: &str, n: usize) -> String {
    pick(
        format!("{pair}: {n} check(s) recorded"),
        format!("{pair}：共记录 {n} 次核验"),
    )
}

/// One record of `ledger find`, its values as the ledger stores them.
pub struct LedgerRecord<'a> {
    pub time: &'a str,
    pub caller: &'a str,
    pub purpose: &'a str,
    pub outcome: &'a str,
    pub mode: &'a str,
    pub billed: &'a str,
    pub order: Option<&'a str>,
}

pub fn ledger_record(r: &LedgerRecord<'_>) -> String {
    let LedgerRecord {
        time,
        caller,
        purpose,
        outcome,
        mode,
        billed,
        order,
    } = r;
    let billed_zh = match *billed {
        "yes" => "是",
        "no" => "否",
        _ => "可能",
    };
    pick(
        format!(
            "{time}  caller: {caller}  purpose: {purpose}  {outcome} ({mode}), billed {billed}{}",
            order.map(|o| format!(", order {o}")).unwrap_or_default()
        ),
        format!(
            "{time}  调用方：{caller}  用途：{purpose}  {outcome}（{mode}），计费：{billed_zh}{}",
            order.map(|o| format!("，订单号 {o}")).unwrap_or_default()
        ),
    )
}

pub fn ledger_verified(records: u64, chains: usize, problems: Option<usize>) -> String {
    match problems {
        None => pick(
            format!("{records} record(s) in {chains} chain(s): intact"),
            format!("{records} 条记录，{chains} 条哈希链：完整，未被改动"),
        ),
        Some(n) => pick(
            format!(
                "{records} record(s) in {chains} chain(s): {n} problem(s): the ledger was tampered with"
            ),
            format!("{records} 条记录，{chains} 条哈希链：发现 {n} 处问题：审计台账被改动过"),
        ),
    }
}

// ---- doctor ----

pub fn doctor_plan(n: usize, pair: &str, base_url: &str, names: &str, codes: &str) -> String {
    pick(
        format!(
            "doctor will send at most {n} check(s) of {pair} to {base_url}, one scheme \
             each ({names}), and stop at the first answer that is not {codes}. Only an \
             answer with error_code 0 is billed, so at most one call is billed."
        ),
        format!(
            "doctor 将向 {base_url} 发送最多 {n} 次对 {pair} 的核验，每个加密方案一次\
             （{names}），遇到第一个不是 {codes} 的答复即停止。只有 error_code 为 0 的答复\
             才计费，因此最多计费一次。"
        ),
    )
}

pub fn doctor_fleet_note() -> &'static str {
    pick(
        " It sends each check itself: JUHE_REDIS_URL is not used, so no shared or cached \
         answer stands in for the vendor's.",
        "每次核验都由它自己发送：不使用 JUHE_REDIS_URL，因此不会用共享或缓存的答复代替聚合的答复。",
    )
}

pub fn doctor_ask() -> &'static str {
    pick("Send them? [y/N] ", "确认发送？[y/N] ")
}

pub fn doctor_no_terminal() -> (&'static str, &'static str) {
    (
        pick(
            "doctor sends paid requests and asks first, but there is no terminal to ask",
            "doctor 会发送计费请求，发送前需要确认，但当前没有终端可以询问",
        ),
        pick("pass --yes to confirm in advance", "请加 --yes 预先确认"),
    )
}

pub fn doctor_cancelled() -> &'static str {
    pick("cancelled; nothing was sent", "已取消；未发送任何请求")
}

pub fn doctor_network(addr: &str, ms: f64) -> String {
    pick(
        format!("network:  {addr} reachable ({ms:.0} ms to connect)"),
        format!("网络：    {addr} 可连通（连接用时 {ms:.0} 毫秒）"),
    )
}

pub fn doctor_network_problem(problem: &str) -> String {
    pick(
        format!("network:  {problem}"),
        format!("网络：    {problem}"),
    )
}

pub fn doctor_proxy(proxy: &str) -> String {
    pick(format!("proxy:    {proxy}"), format!("代理：    {proxy}"))
}

pub fn doctor_roots(files: &str, built_in: bool) -> String {
    match (files.is_empty(), built_in) {
        (true, _) => pick(
            "TLS roots: built-in (Mozilla)".to_owned(),
            "TLS 根证书：内置（Mozilla）".to_owned(),
        ),
        (false, true) => pick(
            format!("TLS roots: built-in (Mozilla) and {files}"),
            format!("TLS 根证书：内置（Mozilla）以及 {files}"),
        ),
        (false, false) => pick(
            format!("TLS roots: only {files} (--no-built-in-roots)"),
            format!("TLS 根证书：仅 {files}（--no-built-in-roots）"),
        ),
    }
}

pub fn doctor_rsa(bits: usize) -> String {
    pick(
        format!("RSA key:  parses, {bits} bits"),
        format!("RSA 公钥：可解析，{bits} 位"),
    )
}

pub fn doctor_clock(skew: i64) -> String {
    let off = skew.abs() > 300;
    pick(
        format!(
            "clock:    {skew:+} s against the server{}",
            if off { " — set the clock right" } else { "" }
        ),
        format!(
            "时钟：    与服务器相差 {skew:+} 秒（正数表示本机较快）{}",
            if off { "——请校准时钟" } else { "" }
        ),
    )
}

pub fn doctor_try(scheme: &str, answer: &str) -> String {
    pick(
        format!("try {scheme:<22} {answer}"),
        format!("尝试 {scheme:<22} {answer}"),
    )
}

pub fn doctor_billed(verdict: &str, order: &str) -> String {
    pick(
        format!("{verdict} (billed, order {order})"),
        format!("{verdict}（已计费，订单号 {order}）"),
    )
}

/// An attempt's error (from [`check_error`]) that may have been billed: in Chinese its lead
/// already says so.
pub fn doctor_maybe_billed(error: &str) -> String {
    match Lang::current() {
        Lang::En => format!("{error} (may have been billed)"),
        Lang::Zh if error.contains("可能已计费") => error.to_owned(),
        Lang::Zh => format!("{error}（可能已计费）"),
    }
}

pub fn doctor_calls(sent: u32, max: usize) -> String {
    pick(
        format!("{sent} of at most {max} call(s) sent."),
        format!("已发送 {sent} 次调用（最多 {max} 次）。"),
    )
}

pub fn doctor_accepts(name: &str, flags: &str) -> String {
    // The flags' placeholders are words people read; `--json` keeps them English.
    let flags_zh = flags
        .replace("<your OpenID>", "<你的 OpenID>")
        .replace("<your key>", "<你的密钥>");
    pick(
        format!("the account accepts {name}: use {flags}"),
        format!("账户接受 {name} 方案：请使用 {flags_zh}"),
    )
}

pub fn doctor_none_accepted(codes: &str) -> String {
    pick(
        format!(
            "no supported scheme was accepted (every answer was {codes}): check the OpenID or \
             key in the Juhe console"
        ),
        format!("没有任何方案被接受（每个答复都是 {codes}）：请在聚合控制台核对 OpenID 或密钥"),
    )
}

pub fn doctor_no_answer(ambiguous: bool, detail: &str) -> String {
    match ambiguous {
        true => pick(
            format!(
                "no readable answer from the API: the call may have been billed ({detail}); nothing more was sent"
            ),
            format!("接口没有可读的答复：这次调用可能已计费（{detail}）；没有再发送其他请求"),
        ),
        false => pick(
            format!("no answer from the API ({detail}); nothing more was sent"),
            format!("接口没有答复（{detail}）；没有再发送其他请求"),
        ),
    }
}

pub fn doctor_refused(code: &str) -> String {
    pick(
        format!(
            "the account was refused: {code}; fix the key (--key / JUHE_KEY) or the account \
             in the Juhe console first"
        ),
        format!("账户被拒绝：{code}；请先修正密钥（--key / JUHE_KEY）或在聚合控制台处理账户问题"),
    )
}

pub fn doctor_inconclusive(code: &str) -> String {
    pick(
        format!("inconclusive: {code}; try again later"),
        format!("无法判断：{code}；请稍后再试"),
    )
}

pub fn doctor_unreachable(problem: &str) -> String {
    pick(
        format!("network: {problem}; nothing was sent"),
        format!("网络：{problem}；未发送任何请求"),
    )
}

pub fn doctor_invalid(problem: &str) -> String {
    pick(
        format!("{problem}; nothing was sent"),
        format!("{problem}；未发送任何请求"),
    )
}

#[cfg(test)]
mod tests {
    use super::Lang;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_flag_then_juhe_lang_then_lc_all_then_lang() {
        assert_eq!(Lang::detect(None, env(&[])), Lang::En);
        assert_eq!(
            Lang::detect(None, env(&[("LANG", "zh_CN.UTF-8")])),
            Lang::Zh
        );
        assert_eq!(
            Lang::detect(None, env(&[("LANG", "zh_TW.UTF-8")])),
            Lang::Zh
        );
        assert_eq!(
            Lang::detect(None, env(&[("LANG", "en_US.UTF-8")])),
            Lang::En
        );
        assert_eq!(Lang::detect(None, env(&[("LANG", "C")])), Lang::En);
        let lc_all = env(&[("LC_ALL", "C.UTF-8"), ("LANG", "zh_CN.UTF-8")]);
        assert_eq!(Lang::detect(None, lc_all), Lang::En);
        let empty_lc_all = env(&[("LC_ALL", ""), ("LANG", "zh_CN.UTF-8")]);
        assert_eq!(Lang::detect(None, empty_lc_all), Lang::Zh);
        let juhe = env(&[("JUHE_LANG", "en"), ("LANG", "zh_CN.UTF-8")]);
        assert_eq!(Lang::detect(None, juhe), Lang::En);
        let juhe = env(&[("JUHE_LANG", "ZH"), ("LANG", "en_US.UTF-8")]);
        assert_eq!(Lang::detect(None, juhe), Lang::Zh);
        let all = env(&[("JUHE_LANG", "zh"), ("LC_ALL", "zh"), ("LANG", "zh")]);
        assert_eq!(Lang::detect(Some(Lang::En), all), Lang::En);
    }
}
