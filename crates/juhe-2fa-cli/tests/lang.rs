//! `--lang`: the same runs in English and Chinese (by the flag, by `LANG`, and `JUHE_LANG`
//! over `LANG`) print their messages in that language, with the same exit codes and the same
//! `--json`, numbers masked in both.

use std::path::Path;

mod common;

use common::{Run, bin, run};
use juhe_sandbox::{BlockingSandbox, Sandbox, demo};
use serde_json::Value;

/// Flags, environment variables, and the language a run given them must get.
type Way = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    Lang,
);

/// How each run chooses its language, and the language it must get.
const WAYS: [Way; 5] = [
    (&["--lang", "en"], &[], Lang::En),
    (&["--lang", "zh"], &[], Lang::Zh),
    (&[], &[("LANG", "zh_CN.UTF-8")], Lang::Zh),
    (
        &[],
        &[("LC_ALL", "zh_CN.UTF-8"), ("LANG", "en_US.UTF-8")],
        Lang::Zh,
    ),
    (
        &[],
        &[("JUHE_LANG", "en"), ("LANG", "zh_CN.UTF-8")],
        Lang::En,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    Zh,
}

fn chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// `args` run each of the [`WAYS`]; `json` runs add `--json`.
fn each_way(args: &[String], json: bool) -> Vec<(Lang, Run)> {
    WAYS.iter()
        .map(|(flags, env, lang)| {
            let mut cmd = bin();
            cmd.args(*flags).args(args);
            if json {
                cmd.arg("--json");
            }
            for (name, value) in *env {
                cmd.env(name, value);
            }
            (*lang, run(&mut cmd))
        })
        .collect()
}

/// The JSON without what differs from run to run (order ids, timings, paths).
fn stable(text: &str) -> Vec<Value> {
    fn clean(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in [
                    "order_id",
                    "elapsed_s",
                    "rows_per_s",
                    "output",
                    "journal",
                    "connect_ms",
                    "clock_skew_s",
                ] {
                    if map.contains_key(key) {
                        map.insert(key.into(), Value::Null);
                    }
                }
                map.values_mut().for_each(clean);
            }
            Value::Array(items) => items.iter_mut().for_each(clean),
            _ => {}
        }
    }
    text.lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            clean(&mut v);
            v
        })
        .collect()
}

/// The same invocation every way: one exit code and one `--json` for all; text in each run's
/// language (`expect` checks it); no number in clear anywhere.
fn same_runs(args: &[String], numbers: &[&str], expect: impl Fn(Lang, &Run)) {
    let text = each_way(args, false);
    let json = each_way(args, true);
    let code = text[0].1.code;
    let reference = stable(&json[0].1.stdout);
    for ((lang, t), (_, j)) in text.iter().zip(&json) {
        assert_eq!(t.code, code, "{lang:?} {args:?}: {}", t.stderr);
        assert_eq!(j.code, code, "{lang:?} {args:?} --json: {}", j.stderr);
        assert_eq!(stable(&j.stdout), reference, "{lang:?} {args:?}");
        let all = format!("{}{}", t.stdout, t.stderr);
        // English runs show Chinese only where the vendor's own reason is quoted.
        match lang {
            Lang::Zh => assert!(chinese(&all), "{args:?}: {all}"),
            Lang::En => assert!(
                !all.contains("：") && !all.contains("，"),
                "{args:?}: {all}"
            ),
        }
        for number in numbers {
            assert!(!all.contains(number), "{lang:?}: {number} in clear: {all}");
        }
        expect(*lang, t);
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

fn api(sb: &BlockingSandbox, rest: &[&str]) -> Vec<String> {
    let mut args = strings(&["--base-url", &sb.base_url(), "--key", demo::API_KEY]);
    args.extend(strings(rest));
    args
}

#[test]
fn verify_in_both_languages() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let (idcard, mobile) = demo::MATCH;
    let matched = api(&sb, &["verify", "--idcard", idcard, "--mobile", mobile]);
    same_runs(&matched, &[], |lang, r| {
        assert_eq!(r.code, 0);
        let expected = if lang == Lang::Zh {
            "一致（match）（res 1），订单号"
        } else {
            "match (res 1), order"
        };
        assert!(r.stdout.starts_with(expected), "{}", r.stdout);
    });
    let (idcard, mobile) = demo::NO_RECORD;
    let no_record = api(&sb, &["verify", "--idcard", idcard, "--mobile", mobile]);
    same_runs(&no_record, &[], |lang, r| {
        assert_eq!(r.code, 4);
        if lang == Lang::Zh {
            assert!(
                r.stderr
                    .contains("juhe-2fa: 错误：未查到该身份证号码与手机号码的记录"),
                "{}",
                r.stderr
            );
        } else {
            assert!(r.stderr.contains("juhe-2fa: error: "), "{}", r.stderr);
        }
    });
    // A wrong key: the API's refusal, with the SDK's hint in the run's language.
    let mut wrong_key = strings(&["--base-url", &sb.base_url(), "--key", "wrong"]);
    wrong_key.extend(strings(&["verify", "--idcard", idcard, "--mobile", mobile]));
    same_runs(&wrong_key, &[], |lang, r| {
        assert_eq!(r.code, 4);
        let hint = if lang == Lang::Zh {
            "提示：请检查 API 密钥（--key / JUHE_KEY）"
        } else {
            "hint: check the API key (--key / JUHE_KEY)"
        };
        assert!(r.stderr.contains(hint), "{}", r.stderr);
    });
    // Rejected locally: the SDK's Chinese message for the number, nothing sent.
    let sent = sb.stats().requests;
    let bad = api(
        &sb,
        &[
            "verify",
            "--idcard",
            "110105199003071238",
            "--mobile",
            mobile,
        ],
    );
    same_runs(&bad, &["110105199003071238"], |lang, r| {
        assert_eq!(r.code, 3);
        if lang == Lang::Zh {
            assert!(r.stderr.contains("身份证号码校验位不正确"), "{}", r.stderr);
        }
    });
    assert_eq!(sb.stats().requests, sent);
}

#[test]
fn check_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("people.csv");
    std::fs::write(
        &input,
        "name,idcard,mobile\n\
         a,110105199003071239,13012345678\n\
         b,110105199003071238,13012345678\n\
         c,610103197001010121,13800138000\n\
         d,110105199003071239\n",
    )
    .unwrap();
    let args = strings(&["check", "--input", input.to_str().unwrap()]);
    same_runs(&args, &["110105199003071238", "13800138000"], |lang, r| {
        assert_eq!(r.code, 3);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{}", r.stdout);
        if lang == Lang::Zh {
            assert_eq!(lines[0], "第 2 行：身份证号：身份证号码校验位不正确");
            assert!(
                lines[1].starts_with("第 3 行：手机号：属于中国移动"),
                "{}",
                lines[1]
            );
            assert!(
                lines[2].contains("此行有 2 个字段，表头有 3 个"),
                "{}",
                lines[2]
            );
            assert_eq!(
                lines[3],
                "共 4 行：有效 2 行（其中 1 行不是中国联通号码），无效 2 行"
            );
        } else {
            assert!(lines[0].starts_with("line 2: idcard: "), "{}", lines[0]);
            assert!(lines[2].contains("row has 2 fields, the header has 3"));
            assert_eq!(
                lines[3],
                "4 rows: 2 valid (1 of them not China Unicom), 2 invalid"
            );
        }
    });
}

/// The output file's `status` and `reason` columns.
fn statuses_and_reasons(path: &Path) -> Vec<(String, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (status, reason) = (at("status"), at("reason"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r.get(status).unwrap_or("").to_owned(),
                r.get(reason).unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// One batch job each way (each with its own output and journal): the same statuses, billed
/// counts and `--json` summary; the row reasons and the summary in the run's language.
#[test]
fn batch_in_both_languages() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("people.csv");
    let (m, n) = (demo::MATCH, demo::NO_RECORD);
    std::fs::write(
        &input,
        format!(
            "name,idcard,mobile\n\
             a,{},{}\n\
             b,{},{}\n\
             c,{},{}\n\
             d,110105199003071238,13012345678\n\
             e,{},{}\n\
             f,110105199003071239\n",
            m.0,
            m.1,
            n.0,
            n.1,
            m.0,
            m.1,
            demo::NON_UNICOM.0,
            demo::NON_UNICOM.1,
        ),
    )
    .unwrap();
    let mut outputs = Vec::new();
    for json in [false, true] {
        for (i, (flags, env, lang)) in WAYS.iter().enumerate() {
            let output = dir.path().join(format!("out-{json}-{i}.csv"));
            let mut cmd = bin();
            cmd.args(*flags)
                .args(["--base-url", &sb.base_url(), "--key", demo::API_KEY])
                .args(["batch", "--input", input.to_str().unwrap()])
                .args(["--output", output.to_str().unwrap()]);
            if json {
                cmd.arg("--json");
            }
            for (name, value) in *env {
                cmd.env(name, value);
            }
            outputs.push((*lang, json, run(&mut cmd), output));
        }
    }
    let reference = statuses_and_reasons(&outputs[0].3);
    let statuses: Vec<&str> = reference.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "match",
            "api_error",
            "match",
            "rejected",
            "api_error",
            "rejected"
        ]
    );
    let json_reference = stable(&outputs[WAYS.len()].2.stdout);
    for (lang, json, r, output) in &outputs {
        assert_eq!(r.code, 0, "{lang:?}: {}", r.stderr);
        let rows = statuses_and_reasons(output);
        let got: Vec<&str> = rows.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(got, statuses, "{lang:?}");
        let all = format!("{}{}", r.stdout, r.stderr);
        for number in [m.0, m.1, n.0, "110105199003071238", demo::NON_UNICOM.1] {
            assert!(!all.contains(number), "{number} in clear: {all}");
        }
        if *json {
            assert_eq!(stable(&r.stdout), json_reference, "{lang:?}");
            continue;
        }
        let reasons: Vec<&str> = rows.iter().map(|(_, r)| r.as_str()).collect();
        match lang {
            Lang::Zh => {
                assert!(r.stderr.starts_with("批量核验：6 行"), "{}", r.stderr);
                assert!(
                    r.stderr.contains("1 行与前面某行的号码相同"),
                    "{}",
                    r.stderr
                );
                assert!(
                    reasons[2].starts_with("与第 1 行号码相同"),
                    "{}",
                    reasons[2]
                );
                assert_eq!(reasons[3], "身份证号码校验位不正确");
                assert_eq!(reasons[5], "此行有 2 个字段，表头有 3 个");
            }
            Lang::En => {
                assert!(r.stderr.starts_with("batch: 6 rows"), "{}", r.stderr);
                assert_eq!(reasons[2], "same pair as row 1: its result, not sent again");
                assert_eq!(reasons[5], "row has 2 fields, the header has 3");
            }
        }
        // The vendor's own reasons for its codes are the same in both.
        assert_eq!(rows[1].1, reference[1].1);
        assert_eq!(rows[4].1, reference[4].1);
    }
}

#[test]
fn doctor_in_both_languages() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let (idcard, mobile) = demo::MATCH;
    let args = api(
        &sb,
        &["doctor", "--idcard", idcard, "--mobile", mobile, "--yes"],
    );
    same_runs(&args, &[idcard, mobile], |lang, r| {
        assert_eq!(r.code, 0);
        if lang == Lang::Zh {
            assert!(r.stdout.contains("账户接受 plain 方案"), "{}", r.stdout);
            assert!(
                r.stdout.contains("已发送 1 次调用（最多 1 次）。"),
                "{}",
                r.stdout
            );
            assert!(r.stderr.contains("doctor 将向"), "{}", r.stderr);
        } else {
            assert!(
                r.stdout.contains("the account accepts plain"),
                "{}",
                r.stdout
            );
        }
    });
    // The flags to use: a placeholder people read is in their language.
    let aes = api(
        &sb,
        &[
            "--mode",
            "aes",
            "--openid",
            demo::OPENID,
            "doctor",
            "--idcard",
            idcard,
            "--mobile",
            mobile,
            "--yes",
        ],
    );
    for (lang, expected) in [
        ("zh", "--openid <你的 OpenID>"),
        ("en", "--openid <your OpenID>"),
    ] {
        let r = run(bin().args(["--lang", lang]).args(&aes));
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(expected), "{}", r.stdout);
    }
    // A failed attempt is told in the run's language too.
    use juhe_sandbox::{Fault, FaultPlan};
    let sb = Sandbox::builder()
        .faults(FaultPlan::new().then(Fault::Http500).then(Fault::Http500))
        .spawn_blocking()
        .unwrap();
    let args = api(
        &sb,
        &["doctor", "--idcard", idcard, "--mobile", mobile, "--yes"],
    );
    for (lang, expected) in [("zh", "尝试 plain"), ("en", "try plain")] {
        let r = run(bin().args(["--lang", lang]).args(&args));
        assert_eq!(r.code, 5, "{}{}", r.stdout, r.stderr);
        let line = r.stdout.lines().find(|l| l.starts_with(expected)).unwrap();
        let answer = line.trim_start_matches(expected);
        assert_eq!(lang == "zh", answer.contains("未计费"), "{line}");
        assert!(answer.contains("HTTP 500"), "{line}");
    }
}

/// A refused option and a missing key: the command's own errors, in the run's language.
#[test]
fn usage_errors_in_both_languages() {
    let args = strings(&[
        "--qps",
        "5",
        "check",
        "--idcard",
        "110105199003071239",
        "--mobile",
        "13012345678",
    ]);
    same_runs(&args, &["110105199003071239"], |lang, r| {
        assert_eq!(r.code, 2);
        let expected = if lang == Lang::Zh {
            "juhe-2fa: 错误：--qps 不适用于 `check`（它只在本地校验，不发送任何请求）"
        } else {
            "juhe-2fa: error: --qps does not apply to `check` (it validates locally and sends nothing)"
        };
        assert!(r.stderr.contains(expected), "{}", r.stderr);
    });
    let args = strings(&[
        "verify",
        "--idcard",
        "110105199003071239",
        "--mobile",
        "13012345678",
    ]);
    same_runs(&args, &[], |lang, r| {
        assert_eq!(r.code, 2);
        let expected = if lang == Lang::Zh {
            "juhe-2fa: 错误：没有 API 密钥"
        } else {
            "juhe-2fa: error: no API key"
        };
        assert!(r.stderr.contains(expected), "{}", r.stderr);
    });
}

/// The stderr lines that start with `prefix` (`错误：` after `juhe-2fa: `, or `提示：`).
fn lines_with<'a>(stderr: &'a str, prefix: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.contains(prefix)).collect()
}

/// In Chinese a failed check says what happened to the operator running the command — the
/// budget is spent, nothing was sent, the request may have been billed — not the message for
/// the person being verified ("try again later", "contact us"); its hint names the proxy
/// among what to check when nothing could be sent.
#[test]
fn failed_checks_tell_the_operator_what_happened_in_chinese() {
    use juhe_sandbox::{Fault, FaultPlan};
    let sb = Sandbox::builder()
        .faults(FaultPlan::new().then(Fault::TruncatedJson))
        .spawn_blocking()
        .unwrap();
    let (idcard, mobile) = demo::MATCH;
    let check = ["verify", "--idcard", idcard, "--mobile", mobile];
    let zh = |extra: &[&str]| {
        run(bin()
            .args(["--lang", "zh", "--key", demo::API_KEY, "--retries", "0"])
            .args(extra)
            .args(check))
    };
    let base = sb.base_url();
    // A billed answer cut short: may have been billed.
    let r = zh(&["--base-url", &base]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    let error = lines_with(&r.stderr, "错误：").join("\n");
    assert!(error.contains("可能已计费"), "{}", r.stderr);
    assert!(!error.contains("联系我们"), "{}", r.stderr);
    // The budget: spent, nothing sent.
    let r = zh(&["--base-url", &base, "--budget", "0/day"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    let error = lines_with(&r.stderr, "错误：").join("\n");
    assert!(error.contains("预算已用完"), "{}", r.stderr);
    assert!(!error.contains("稍后再试"), "{}", r.stderr);
    // Nothing listens (nor would a proxy): not sent, not billed, and the hint names the proxy.
    for extra in [
        &["--base-url", "http://127.0.0.1:1"][..],
        &[
            "--base-url",
            &base,
            "--proxy",
            "http://ops:hunter2@127.0.0.1:1",
        ][..],
    ] {
        let r = zh(extra);
        assert_eq!(r.code, 5, "{}", r.stderr);
        let error = lines_with(&r.stderr, "错误：").join("\n");
        assert!(error.contains("未计费"), "{}", r.stderr);
        assert!(!error.contains("核验服务暂时不可用"), "{}", r.stderr);
        let hint = lines_with(&r.stderr, "提示：").join("\n");
        assert!(hint.contains("--proxy"), "{}", r.stderr);
        assert!(!r.stderr.contains("hunter2"));
    }
    // The deadline passed: said so, and not billed.
    let r = run(bin()
        .args(["--lang", "zh", "--key", demo::API_KEY, "--retries", "9"])
        .args(["--base-url", "http://127.0.0.1:1", "--deadline", "0.2"])
        .args(check));
    assert_eq!(r.code, 5, "{}", r.stderr);
    let error = lines_with(&r.stderr, "错误：").join("\n");
    assert!(
        error.contains("--deadline") && error.contains("未计费"),
        "{}",
        r.stderr
    );
    let en = run(bin()
        .args(["--key", demo::API_KEY, "--retries", "0"])
        .args(["--base-url", "http://127.0.0.1:1"])
        .args(check));
    assert!(
        en.stderr.contains("hint: ") && en.stderr.contains("--proxy"),
        "{}",
        en.stderr
    );
    assert_eq!(sb.stats().requests, 1);
}

/// The same for a batch in Chinese: a `failed` row's reason says it was not billed, and a job
/// stopped by the budget says the budget is spent.
#[test]
fn batch_failures_tell_the_operator_what_happened_in_chinese() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let (idcard, mobile) = demo::MATCH;
    let (other, other_mobile) = demo::MISMATCH;
    std::fs::write(
        &input,
        format!("idcard,mobile\n{idcard},{mobile}\n{other},{other_mobile}\n"),
    )
    .unwrap();
    let output = dir.path().join("down.csv");
    let r = run(common::batch_cmd(
        "http://127.0.0.1:1",
        demo::API_KEY,
        &["--lang", "zh", "--retries", "0"],
        &input,
        &output,
    )
    .arg("--no-dedupe"));
    assert_eq!(r.code, 5, "{}", r.stderr);
    for (status, reason) in statuses_and_reasons(&output) {
        assert_eq!(status, "failed");
        assert!(reason.contains("未计费"), "{reason}");
        assert!(!reason.contains("稍后再试"), "{reason}");
    }
    let output = dir.path().join("budget.csv");
    let ledger = dir.path().join("ledger.db");
    let r = run(common::batch_cmd(
        &sb.base_url(),
        demo::API_KEY,
        &[
            "--lang",
            "zh",
            "--budget",
            "1/day",
            "--ledger",
            ledger.to_str().unwrap(),
        ],
        &input,
        &output,
    )
    .args(["--concurrency", "1"]));
    assert_eq!(r.code, 6, "{}", r.stderr);
    let error = lines_with(&r.stderr, "错误：").join("\n");
    assert!(error.contains("预算已用完"), "{}", r.stderr);
    assert!(!error.contains("稍后再试"), "{}", r.stderr);
}

/// `ledger`'s reports in the run's language (`--json` unchanged): stats, find, verify, purge,
/// export's note, and its errors.
#[test]
fn ledger_in_both_languages() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let ledger = ledger.to_str().unwrap();
    let (idcard, mobile) = demo::MATCH;
    let r = run(bin()
        .args(api(&sb, &["--ledger", ledger, "verify"]))
        .args(["--idcard", idcard, "--mobile", mobile]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let runs: [(&[&str], i32); 6] = [
        (&["ledger", "stats"], 0),
        (
            &["ledger", "find", "--idcard", idcard, "--mobile", mobile],
            0,
        ),
        (
            &[
                "ledger",
                "find",
                "--idcard",
                "110105199003071238",
                "--mobile",
                mobile,
            ],
            3,
        ),
        (&["ledger", "verify"], 0),
        (&["ledger", "export"], 0),
        (&["ledger", "purge", "--older-than", "30"], 0),
    ];
    for (args, code) in runs {
        for lang in ["en", "zh"] {
            let r = run(bin().args(["--lang", lang, "--ledger", ledger]).args(args));
            assert_eq!(r.code, code, "{lang} {args:?}: {}", r.stderr);
            // What people read: the report, or the note and errors on stderr for export.
            let read = if args[1] == "export" {
                &r.stderr
            } else {
                &format!("{}{}", r.stdout, r.stderr)
            };
            assert_eq!(chinese(read), lang == "zh", "{lang} {args:?}: {read}");
            assert!(!read.contains("110105199003071238"), "{read}");
        }
    }
    let missing = dir.path().join("none.db");
    let r = run(bin()
        .args(["--lang", "zh", "--ledger", missing.to_str().unwrap()])
        .args(["ledger", "stats"]));
    assert_eq!(r.code, 2);
    let error = lines_with(&r.stderr, "错误：").join("");
    assert!(error.contains("没有审计台账"), "{}", r.stderr);
    // A ledger that cannot be used with --ledger-optional: the check goes, warned in Chinese.
    let r = run(bin()
        .args(api(
            &sb,
            &[
                "--lang",
                "zh",
                "--ledger",
                missing.join("x.db").to_str().unwrap(),
            ],
        ))
        .args([
            "--ledger-optional",
            "verify",
            "--idcard",
            idcard,
            "--mobile",
            mobile,
        ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let warning = lines_with(&r.stderr, "警告：").join("");
    let text = warning.split_once("警告：").unwrap().1;
    assert!(text.starts_with("无法使用审计台账"), "{}", r.stderr);
}

/// `demo`, the first command README.zh-CN.md suggests, in the run's language (the table's
/// values stay: they are the modes, clients and statuses people will type and grep).
#[test]
fn demo_in_both_languages() {
    for lang in ["en", "zh"] {
        let r = run(bin().args(["--lang", lang, "demo"]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(chinese(&r.stdout), lang == "zh", "{}", r.stdout);
        assert!(r.stdout.contains("plain  async     match"), "{}", r.stdout);
        assert!(r.stdout.contains("juhe-2fa sandbox"), "{}", r.stdout);
    }
}

/// Every usage error with a hint gives the hint in the run's language.
#[test]
fn usage_hints_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let missing = dir.path().join("no").join("ledger.db");
    let (idcard, mobile) = demo::MATCH;
    let verify = ["verify", "--idcard", idcard, "--mobile", mobile];
    let cases: Vec<Vec<&str>> = vec![
        vec!["--mode", "aes"],
        vec!["--mode", "aes", "--aes-key", "abc"],
        vec![
            "--mode",
            "aes",
            "--aes-key",
            "0123456789abcdef",
            "--openid",
            "x",
        ],
        vec![
            "--mode",
            "aes",
            "--aes-key",
            "0123456789abcdef",
            "--aes-mode",
            "ecb",
            "--aes-iv",
            "zero",
        ],
        vec!["--mode", "rsa"],
        vec!["--ledger", missing.to_str().unwrap()],
    ];
    let mut runs: Vec<Vec<&str>> = cases
        .into_iter()
        .map(|mut c| {
            c.extend(["--key", demo::API_KEY]);
            c.extend(verify);
            c
        })
        .collect();
    runs.push(vec![
        "--ledger",
        ledger.to_str().unwrap(),
        "--caller",
        "ops",
        "ledger",
        "verify",
    ]);
    for args in &runs {
        for lang in ["en", "zh"] {
            let r = run(bin().args(["--lang", lang]).args(args));
            assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
            let prefix = if lang == "zh" { "提示：" } else { "hint: " };
            let hints = lines_with(&r.stderr, prefix);
            assert_eq!(hints.len(), 1, "{lang} {args:?}: {}", r.stderr);
            let text = hints[0].split_once(prefix).unwrap().1;
            assert_eq!(chinese(text), lang == "zh", "{lang} {args:?}: {}", r.stderr);
        }
    }
}

/// Errors found while parsing the command line (a missing option, an unknown one, a bad
/// value) get a Chinese lead in a Chinese run, by the flag (`--lang zh`, `--lang=ZH`: any
/// case, as JUHE_LANG) or the environment; clap's own English detail follows. `--help` is not
/// an error and stays as it is.
#[test]
fn command_line_errors_in_chinese() {
    let cases: [&[&str]; 5] = [
        &["check", "--idcard", "110105199003071239"],
        &["verify", "--idcard", "1", "--mobile", "2", "--bogus"],
        &[
            "--timeout",
            "soon",
            "check",
            "--idcard",
            "1",
            "--mobile",
            "2",
        ],
        &["frobnicate"],
        &["check"],
    ];
    for args in cases {
        for (flags, env) in [
            (&["--lang", "zh"][..], None),
            (&["--lang=ZH"][..], None),
            (&[][..], Some(("LANG", "zh_CN.UTF-8"))),
        ] {
            let mut cmd = bin();
            cmd.args(flags).args(args);
            if let Some((name, value)) = env {
                cmd.env(name, value);
            }
            let r = run(&mut cmd);
            assert_eq!(r.code, 2, "{flags:?} {args:?}: {}", r.stderr);
            let first = r.stderr.lines().next().unwrap_or_default();
            let lead = first.strip_prefix("juhe-2fa: 错误：").unwrap_or_default();
            assert!(chinese(lead), "{flags:?} {args:?}: {}", r.stderr);
            assert!(
                r.stderr.contains("提示："),
                "{flags:?} {args:?}: {}",
                r.stderr
            );
        }
        let en = run(bin().args(args));
        assert_eq!(en.code, 2);
        assert!(!chinese(&en.stderr), "{}", en.stderr);
    }
    // `--lang ZH` is Chinese, as JUHE_LANG=ZH is; --help is unchanged and exits 0.
    let r = run(bin().args(["--lang", "ZH", "check", "--idcard", "110105199003071239"]));
    assert!(r.stderr.starts_with("juhe-2fa: 错误："), "{}", r.stderr);
    let help = run(bin().args(["--lang", "zh", "check", "--help"]));
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.contains("Usage: juhe-2fa check"),
        "{}",
        help.stdout
    );
}

/// A job written in Chinese and resumed in English (and the other way round): each row keeps
/// the reason it was recorded with, and the copies and their counts are still told apart.
#[test]
fn a_job_resumed_in_the_other_language_keeps_its_reasons() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("people.csv");
    let (m, n) = (demo::MATCH, demo::MISMATCH);
    std::fs::write(
        &input,
        format!(
            "idcard,mobile\n{},{}\n{},{}\n{},{}\n",
            m.0, m.1, n.0, n.1, m.0, m.1
        ),
    )
    .unwrap();
    for (first, second, copy_note) in [
        ("zh", "en", "与第 1 行号码相同"),
        ("en", "zh", "same pair as row 1"),
    ] {
        let output = dir.path().join(format!("out-{first}.csv"));
        let batch = |lang: &str| {
            run(bin()
                .args(["--lang", lang, "--json"])
                .args(["--base-url", &sb.base_url(), "--key", demo::API_KEY])
                .args(["batch", "--input", input.to_str().unwrap()])
                .args(["--output", output.to_str().unwrap()]))
        };
        let sent = sb.stats().requests;
        let one = batch(first);
        assert_eq!(one.code, 0, "{}", one.stderr);
        assert_eq!(sb.stats().requests, sent + 2);
        let two = batch(second);
        assert_eq!(two.code, 0, "{}", two.stderr);
        assert_eq!(sb.stats().requests, sent + 2, "the rerun sends nothing");
        let (one, two): (Value, Value) = (
            serde_json::from_str(one.stdout.trim()).unwrap(),
            serde_json::from_str(two.stdout.trim()).unwrap(),
        );
        assert_eq!(one["duplicates"], 1);
        assert_eq!(two["duplicates"], 1, "{two}");
        assert_eq!(two["billable"], 2);
        assert_eq!(two["billable_this_run"], 0);
        let rows = statuses_and_reasons(&output);
        assert!(rows[2].1.starts_with(copy_note), "{:?}", rows[2]);
    }
}

/// A job stopped by the account (a wrong key): the same exit code and summary, the stop
/// message in the run's language.
#[test]
fn a_stopped_job_in_both_languages() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("people.csv");
    let (m, n) = (demo::MATCH, demo::MISMATCH);
    std::fs::write(
        &input,
        format!("idcard,mobile\n{},{}\n{},{}\n", m.0, m.1, n.0, n.1),
    )
    .unwrap();
    let output = dir.path().join("out.csv");
    let args = strings(&[
        "--base-url",
        &sb.base_url(),
        "--key",
        "wrong",
        "batch",
        "--concurrency",
        "1",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    same_runs(&args, &[m.0, m.1, n.0, n.1], |lang, r| {
        assert_eq!(r.code, 4);
        let expected = if lang == Lang::Zh {
            "juhe-2fa: 错误：任务已停止：接口返回错误码 10001"
        } else {
            "juhe-2fa: error: the job stopped: "
        };
        assert!(r.stderr.contains(expected), "{}", r.stderr);
    });
}
