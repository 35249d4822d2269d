//! The Chinese docs (README.zh-CN.md, docs/zh-CN/cli.md) name only what exists: their exit-code
//! tables are the English ones, every `juhe-2fa <command>` is a command, every `--option` one
//! the command (or a command of it) takes.

mod common;

use common::{bin, run};

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The codes of the table under `heading`.
fn exit_codes(doc: &str, heading: &str) -> Vec<u8> {
    let codes: Vec<u8> = doc
        .lines()
        .skip_while(|l| l.trim() != heading)
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.trim_matches('|').split('|').next()?.trim().parse().ok())
        .collect();
    assert!(!codes.is_empty(), "no table under {heading}");
    codes
}

#[test]
fn the_exit_code_tables_match_the_english_ones() {
    let english = exit_codes(&read("docs/cli.md"), "## Exit codes");
    assert_eq!(english, [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(exit_codes(&read("README.md"), "## Exit codes"), english);
    assert_eq!(exit_codes(&read("docs/zh-CN/cli.md"), "## 退出码"), english);
    assert_eq!(exit_codes(&read("README.zh-CN.md"), "## 退出码"), english);
}

#[test]
fn every_command_and_option_named_exists() {
    let help = run(bin().arg("--help"));
    assert_eq!(help.code, 0);
    // Every option of every command and subcommand, from their `--help`.
    let mut known = help.stdout.clone();
    let commands = [
        "verify", "check", "batch", "encrypt", "doctor", "sandbox", "demo", "ledger",
    ];
    for command in commands {
        assert!(help.stdout.contains(&format!("  {command}")), "{command}");
        known.push_str(&run(bin().args([command, "--help"])).stdout);
    }
    for nested in ["export", "stats", "find", "purge", "verify"] {
        known.push_str(&run(bin().args(["ledger", nested, "--help"])).stdout);
    }
    for doc in ["README.zh-CN.md", "docs/zh-CN/cli.md"] {
        let text = read(doc);
        // `juhe-2fa <word>` on one line: the word right after the name, when it is one.
        let mut named = 0;
        for (at, _) in text.match_indices("juhe-2fa ") {
            let word: String = text[at + "juhe-2fa ".len()..]
                .chars()
                .take_while(char::is_ascii_lowercase)
                .collect();
            if !word.is_empty() {
                assert!(commands.contains(&word.as_str()), "{doc}: juhe-2fa {word}");
                named += 1;
            }
        }
        assert!(named >= 3, "{doc} names the commands it shows");
        // Lines about cargo name cargo's options.
        let ours: String = text
            .lines()
            .filter(|l| !l.contains("cargo "))
            .collect::<Vec<_>>()
            .join("\n");
        let words: Vec<&str> = ours
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .collect();
        let is_option =
            |w: &&&str| w.starts_with("--") && w[2..].starts_with(|c: char| c.is_ascii_lowercase());
        for option in words.iter().filter(is_option) {
            assert!(
                known.contains(&format!("{option} ")) || known.contains(&format!("{option}\n")),
                "{doc}: {option} is no option of the command"
            );
        }
    }
}

/// The table of error leads in docs/zh-CN/cli.md has what the command prints: each lead
/// (before the bracketed detail) of a failed check, one per situation.
#[test]
fn the_error_leads_in_the_guide_are_the_printed_ones() {
    use juhe_2fa::testing::answer;
    use juhe_2fa::{Endpoint, Error, ErrorCode};
    let doc = read("docs/zh-CN/cli.md");
    let api = |code, mode| Error::Api {
        code,
        reason: String::new(),
        mode,
    };
    let errors = [
        Error::Transport(answer::not_sent()),
        Error::Transport(answer::maybe_sent()),
        Error::Deadline { sent: false },
        Error::Budget {
            budget: juhe_2fa::budget::Budget::per_day(5),
            resets_at: "2026-12-01 00:00 China time".into(),
        },
        api(ErrorCode::InvalidKey, Endpoint::Plain),
        api(ErrorCode::InvalidMobile, Endpoint::Aes),
        api(ErrorCode::RateLimited, Endpoint::Plain),
        api(ErrorCode::NetworkError, Endpoint::Plain),
    ];
    for e in &errors {
        let text = juhe_batch::error_zh(e);
        let lead = text.split('（').next().unwrap();
        assert!(
            doc.contains(&format!("| {lead} |")),
            "{lead}: not in the guide's table"
        );
    }
}
