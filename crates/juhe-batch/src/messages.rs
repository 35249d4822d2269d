//! The texts a job writes for people, in English and Chinese: the `reason` of a row (journal
//! and output) and why a row could not be read. One catalogue: the rest of the crate names a
//! [`Reason`] or a [`Malformed`] and renders it in the job's [`Lang`].
//!
//! English is the default and its wording is stable: scripts may match the `reason` column.
//! A job in Chinese records Chinese reasons; a rerun keeps each row's reason as recorded, and
//! tells the notes it wrote itself (copies, shared answers) apart in either language.

use std::fmt;

/// The language of the reasons a job writes (`Job::lang`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English (the default; the wording scripts may rely on).
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

/// A reason the job writes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Left `sent` by an interrupted run: may have been billed.
    SentBefore,
    /// Not sent: the job stopped before the row.
    Pending,
    /// Not final: the vendor could not read the numbers (wrong key material).
    KeyPending,
    /// Another process's answer for the pair, through Redis.
    Reused,
    /// The row has no idcard or mobile.
    NoNumbers,
}

impl Reason {
    #[cfg(test)]
    pub(crate) const ALL: [Reason; 5] = [
        Reason::SentBefore,
        Reason::Pending,
        Reason::KeyPending,
        Reason::Reused,
        Reason::NoNumbers,
    ];

    pub(crate) fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Reason::SentBefore, Lang::En) => {
                "sent by an earlier run that stopped before the answer was recorded; it may have been billed (rerun with --retry-ambiguous to send it again)"
            }
            (Reason::SentBefore, Lang::Zh) => {
                "上次运行已发送此行，但在记录答复前中断：可能已计费（如需重新发送，请加 --retry-ambiguous 重新运行）"
            }
            (Reason::Pending, Lang::En) => {
                "not sent: the job stopped before this row (rerun the same command to resume)"
            }
            (Reason::Pending, Lang::Zh) => {
                "未发送：任务在处理此行之前已停止（重新运行同一命令即可继续）"
            }
            (Reason::KeyPending, Lang::En) => {
                "not final: the vendor could not read this row's numbers, as with wrong key material (rerun with the right key to check it)"
            }
            (Reason::KeyPending, Lang::Zh) => {
                "未完成：聚合无法读取此行的号码，通常是密钥配置错误（用正确的密钥重新运行即可核验）"
            }
            (Reason::Reused, Lang::En) => {
                "another process's answer for this pair (shared through Redis), not sent"
            }
            (Reason::Reused, Lang::Zh) => "另一进程对同一组号码的核验结果（经 Redis 共享），未发送",
            (Reason::NoNumbers, Lang::En) => "the row has no idcard or mobile",
            (Reason::NoNumbers, Lang::Zh) => "此行缺少 idcard 或 mobile",
        }
    }

    /// The reason recorded for a shared answer, in either language.
    pub(crate) fn is_reused(text: &str) -> bool {
        [Lang::En, Lang::Zh]
            .iter()
            .any(|lang| text == Reason::Reused.text(*lang))
    }
}

const COPY_EN: &str = "same pair as row ";
const COPY_ZH: &str = "与第 ";

/// A copied result's reason: the note naming the first row, then that row's reason.
pub(crate) fn copy_note(first: u64, reason: Option<&str>, lang: Lang) -> String {
    let note = match lang {
        Lang::En => format!("{COPY_EN}{first}: its result, not sent again"),
        Lang::Zh => format!("{COPY_ZH}{first} 行号码相同：沿用其结果，未再次发送"),
    };
    match (reason, lang) {
        (Some(reason), Lang::En) => format!("{note} ({reason})"),
        (Some(reason), Lang::Zh) => format!("{note}（{reason}）"),
        (None, _) => note,
    }
}

/// True for a reason written by [`copy_note`], in either language.
pub(crate) fn is_copy_note(text: &str) -> bool {
    text.starts_with(COPY_EN) || (text.starts_with(COPY_ZH) && text.contains("行号码相同"))
}

/// A failed check's reason: in English the vendor's reason (for an API answer) or the error
/// chain; in Chinese the vendor's reason (it is Chinese) or [`error_zh`].
pub(crate) fn failure(error: &juhe_2fa::Error, lang: Lang) -> String {
    match (error, lang) {
        (juhe_2fa::Error::Api { reason, .. }, Lang::En) => reason.clone(),
        (juhe_2fa::Error::Api { reason, .. }, Lang::Zh) if !reason.trim().is_empty() => {
            reason.clone()
        }
        (juhe_2fa::Error::InvalidInput(e), Lang::Zh) => e.message_zh(),
        (other, Lang::En) => crate::error_chain(other),
        (other, Lang::Zh) => error_zh(other),
    }
}

/// A failed check for the operator running a job or a command, in Chinese: what happened
/// (the budget is spent, it was not billed, it may have been billed…) with the technical
/// detail (the error chain) in brackets. The SDK's `message_zh` is for the person being
/// verified ("请稍后再试", "请先联系我们"): it leads only where it says what is wrong with the
/// numbers or what the API answered.
pub fn error_zh(error: &juhe_2fa::Error) -> String {
    use juhe_2fa::{ErrorClass as C, ErrorKind as K};
    let public = || error.message_zh().trim_end_matches('。').to_owned();
    let lead = match error.class() {
        _ if matches!(error, juhe_2fa::Error::Deadline { .. }) => {
            "已到 --deadline 规定的时间，核验未完成，未计费".to_owned()
        }
        _ if error.likely_key_material() => "接口无法读取加密的字段，可能是密钥配置有误".to_owned(),
        C::Api(code) => match code.kind() {
            K::InvalidInput | K::UnsupportedNumber | K::NoRecord => public(),
            K::Transient => "接口暂时故障".to_owned(),
            K::RateLimited => "接口限速或额度已用完".to_owned(),
            K::Credential => "接口拒绝了 API 密钥".to_owned(),
            K::Disabled => "密钥、IP 或接口已被聚合封禁".to_owned(),
            _ => "接口返回错误".to_owned(),
        },
        C::Rejected | C::Cancelled => public(),
        C::Unbilled => "核验未完成，未计费".to_owned(),
        C::Ambiguous => "没有收到可读的答复，该请求可能已计费".to_owned(),
        C::Budget => "花费预算已用完，未发送".to_owned(),
        C::Config => "配置错误".to_owned(),
    };
    format!("{lead}（{}）", crate::error_chain(error))
}

/// Why a failure stopped the job, in Chinese: an API answer with its code (the English is the
/// error chain, which names it).
pub(crate) fn stop_zh(error: &juhe_2fa::Error) -> String {
    match error {
        juhe_2fa::Error::Api { code, reason, .. } => {
            format!("接口返回错误码 {}：{}", code.code(), reason.trim())
        }
        other => failure(other, Lang::Zh),
    }
}

/// A number that failed local validation.
pub(crate) fn invalid(error: &juhe_2fa::ValidationError, lang: Lang) -> String {
    match lang {
        Lang::En => error.to_string(),
        Lang::Zh => error.message_zh(),
    }
}

/// Why the job stopped when the vendor could not read `answers` rows in a row.
pub(crate) fn key_material(
    code: juhe_2fa::ErrorCode,
    answers: u32,
    flags: Option<&str>,
    lang: Lang,
) -> String {
    match lang {
        Lang::En => format!(
            "{answers} answers in a row were {} ({}) for numbers that passed local validation: \
             the vendor could not decrypt them, so the key material is wrong, not the rows; \
             check {}, or run `juhe-2fa doctor` to find the scheme your account accepts",
            code.code(),
            code.description(),
            flags.unwrap_or("the key settings"),
        ),
        Lang::Zh => format!(
            "连续 {answers} 个答复都是 {}（{}），而这些号码已通过本地校验：聚合无法解密，\
             说明密钥配置有误，而不是这些行有误；请检查 {}，或运行 `juhe-2fa doctor` \
             找出账户接受的加密方案",
            code.code(),
            code.description(),
            flags.unwrap_or("密钥设置"),
        ),
    }
}

/// Why an input record could not be read as a pair. `Display` is the English text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// A CSV record with another number of fields than the header.
    FieldCount {
        /// Fields in the record.
        found: usize,
        /// Fields in the header.
        width: usize,
    },
    /// A field that is not text in the input's encoding.
    NotText {
        /// `idcard` or `mobile`.
        column: &'static str,
        /// The encoding's name.
        encoding: &'static str,
    },
    /// A record without that field.
    NoField {
        /// `idcard` or `mobile`.
        column: &'static str,
    },
    /// An .xlsx number cell: Excel keeps 15 significant digits.
    NumberCell {
        /// `idcard` or `mobile`.
        column: &'static str,
    },
    /// An .xlsx cell of another type (a date, a true/false value, an error value).
    NotTextCell {
        /// `idcard` or `mobile`.
        column: &'static str,
        /// `bool`, `date` or `error`.
        kind: &'static str,
    },
    /// A JSON object without the member as a string.
    NoJsonString {
        /// `idcard` or `mobile`.
        column: &'static str,
    },
    /// A JSONL line that is JSON but not an object.
    NotJsonObject,
    /// A JSONL line that is not JSON.
    NotJson,
    /// A JSONL line that is not UTF-8.
    NotUtf8,
}

impl Malformed {
    /// The field it is about (`idcard` or `mobile`), or `None` when it is about the whole
    /// record (its number of fields, or a line that is not JSON or not UTF-8).
    pub fn column(&self) -> Option<&'static str> {
        match self {
            Malformed::NotText { column, .. }
            | Malformed::NoField { column }
            | Malformed::NumberCell { column }
            | Malformed::NotTextCell { column, .. }
            | Malformed::NoJsonString { column } => Some(column),
            Malformed::FieldCount { .. }
            | Malformed::NotJsonObject
            | Malformed::NotJson
            | Malformed::NotUtf8 => None,
        }
    }

    /// The text in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::Zh => self.zh(),
        }
    }

    fn zh(&self) -> String {
        match self {
            Malformed::FieldCount { found, width } => {
                format!("此行有 {found} 个字段，表头有 {width} 个")
            }
            Malformed::NotText { column, encoding } => {
                format!("{column} 字段不是 {encoding} 编码的文本")
            }
            Malformed::NoField { column } => format!("此行没有 {column} 字段"),
            Malformed::NumberCell { column } => {
                let lost = if *column == "idcard" {
                    "末几位数字已丢失"
                } else {
                    "数字可能已丢失"
                };
                format!(
                    "{column} 单元格在 Excel 中存为数字：{lost}——请把该列设置为文本格式，再重新录入号码"
                )
            }
            Malformed::NotTextCell { column, kind } => format!(
                "{column} 单元格是{}，不是文本——请把该列设置为文本格式，再重新录入号码",
                match *kind {
                    "bool" => "真/假值",
                    "date" => "日期",
                    _ => "错误值",
                }
            ),
            Malformed::NoJsonString { column } => format!("对象中没有字符串类型的 {column}"),
            Malformed::NotJsonObject => "此行不是 JSON 对象".to_owned(),
            Malformed::NotJson => "此行不是有效的 JSON".to_owned(),
            Malformed::NotUtf8 => "此行不是 UTF-8 文本（可尝试 --encoding gbk）".to_owned(),
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::FieldCount { found, width } => {
                write!(f, "row has {found} fields, the header has {width}")
            }
            Malformed::NotText { column, encoding } => {
                write!(f, "the {column} field is not {encoding} text")
            }
            Malformed::NoField { column } => write!(f, "the row has no {column} field"),
            Malformed::NumberCell { column } => {
                let lost = if *column == "idcard" {
                    "digits lost"
                } else {
                    "digits may be lost"
                };
                write!(
                    f,
                    "the {column} cell is stored as a number in Excel: {lost} — format the column as text and enter the numbers again"
                )
            }
            Malformed::NotTextCell { column, kind } => write!(
                f,
                "the {column} cell holds {}, not text — format the column as text and enter the numbers again",
                match *kind {
                    "bool" => "a true/false value",
                    "date" => "a date",
                    _ => "an error value",
                }
            ),
            Malformed::NoJsonString { column } => write!(f, "no {column} string in the object"),
            Malformed::NotJsonObject => f.write_str("the line is not a JSON object"),
            Malformed::NotJson => f.write_str("the line is not valid JSON"),
            Malformed::NotUtf8 => f.write_str("the line is not UTF-8 text (try --encoding gbk)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_chinese(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    /// Every text in both languages: English unchanged (scripts match it), Chinese Chinese, the
    /// flags named in one named in the other.
    #[test]
    fn every_text_in_both_languages() {
        for reason in Reason::ALL {
            let (en, zh) = (reason.text(Lang::En), reason.text(Lang::Zh));
            assert!(!has_chinese(en) && has_chinese(zh), "{reason:?}");
            if en.contains("--retry-ambiguous") {
                assert!(zh.contains("--retry-ambiguous"));
            }
        }
        assert!(Reason::is_reused(Reason::Reused.text(Lang::Zh)));
        assert!(Reason::is_reused(Reason::Reused.text(Lang::En)));
        for lang in [Lang::En, Lang::Zh] {
            assert!(is_copy_note(&copy_note(7, Some("x"), lang)));
            assert!(is_copy_note(&copy_note(7, None, lang)));
        }
        assert!(!is_copy_note("与第三方无关"));
        assert_eq!(
            copy_note(3, None, Lang::En),
            "same pair as row 3: its result, not sent again"
        );
        let malformed = [
            Malformed::FieldCount { found: 3, width: 2 },
            Malformed::NotText {
                column: "mobile",
                encoding: "GBK",
            },
            Malformed::NoField { column: "idcard" },
            Malformed::NumberCell { column: "idcard" },
            Malformed::NumberCell { column: "mobile" },
            Malformed::NotTextCell {
                column: "idcard",
                kind: "date",
            },
            Malformed::NotTextCell {
                column: "idcard",
                kind: "bool",
            },
            Malformed::NotTextCell {
                column: "idcard",
                kind: "error",
            },
            Malformed::NoJsonString { column: "mobile" },
            Malformed::NotJsonObject,
            Malformed::NotJson,
            Malformed::NotUtf8,
        ];
        for m in &malformed {
            let (en, zh) = (m.text(Lang::En), m.text(Lang::Zh));
            assert_eq!(en, m.to_string());
            assert!(!has_chinese(&en) && has_chinese(&zh), "{m:?}");
        }
        assert_eq!(
            Malformed::NumberCell { column: "idcard" }.to_string(),
            "the idcard cell is stored as a number in Excel: digits lost — format the column as text and enter the numbers again"
        );
        let code = juhe_2fa::ErrorCode::InvalidMobile;
        assert!(has_chinese(&key_material(
            code,
            3,
            Some("--openid"),
            Lang::Zh
        )));
        assert!(key_material(code, 3, Some("--openid"), Lang::Zh).contains("--openid"));
    }
}
