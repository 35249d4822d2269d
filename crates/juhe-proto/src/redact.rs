//! Masking what a server or a middlebox may echo back from a request: the API key (raw or in
//! any of the encodings a request or a page puts it in), the values as sent, and every run of 6
//! or more digits (ID card and mobile numbers, whatever else was echoed).

/// What a masked secret is replaced with.
const MASK: &str = "[redacted]";

/// Runs of this many ASCII digits or more are masked: no ID card (18) or mobile number (11)
/// survives, the vendor's six-digit error codes do not either.
const MIN_DIGIT_RUN: usize = 6;

/// `text` with every occurrence of each of `secrets` replaced by `[redacted]`, every run of 6
/// or more ASCII digits replaced by as many `*`, and control characters (terminal escapes, line
/// breaks) dropped. For text that comes from a response: a `reason`, a body excerpt for a log.
///
/// A secret is found raw and in the forms an echo gives it: percent-encoded (`%26`, either
/// case, or twice: `%2526`), form-encoded (`+` for a space), JSON-escaped (`\u0026`, `\"`) and
/// HTML-escaped (`&amp;`, `&#38;`), in any mix. Empty secrets are ignored.
///
/// ```
/// let echoed = "bad request: key=a%26b%3Dc+d&mobile=13012345678";
/// assert_eq!(
///     juhe_proto::redact(echoed, &["a&b=c d"]),
///     "bad request: key=[redacted]&mobile=***********"
/// );
/// assert_eq!(juhe_proto::redact("code 10001\r\n", &[]), "code 10001");
/// ```
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let bytes = text.as_bytes();
    let mut unmasked = String::with_capacity(text.len());
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        let found = secrets
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| match_at(bytes, i, s.as_bytes()))
            .max();
        match found {
            Some(end) => {
                // Matches start on an ASCII byte or a secret's first byte and end after a
                // whole secret or escape: always on character boundaries.
                unmasked.push_str(&text[copied..i]);
                unmasked.push_str(MASK);
                i = end;
                copied = end;
            }
            None => i += 1,
        }
    }
    unmasked.push_str(&text[copied..]);
    mask_digit_runs(&unmasked)
}

/// Every run of [`MIN_DIGIT_RUN`] or more ASCII digits as `*`; control characters dropped.
fn mask_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= MIN_DIGIT_RUN {
            out.extend(std::iter::repeat_n('*', digits.len()));
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars().filter(|c| !c.is_control()) {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// Where `secret` ends if it starts at `start` of `text`, each of its bytes raw or escaped.
/// Both readings are tried where both fit (`&amp;` may be an escaped `&` or the text itself).
fn match_at(text: &[u8], start: usize, secret: &[u8]) -> Option<usize> {
    let Some((&want, rest)) = secret.split_first() else {
        return Some(start);
    };
    let raw = (text.get(start) == Some(&want))
        .then(|| match_at(text, start + 1, rest))
        .flatten();
    raw.or_else(|| {
        let (byte, len) = unescape(text.get(start..)?)?;
        (byte == want)
            .then(|| match_at(text, start + len, rest))
            .flatten()
    })
    .or_else(|| {
        // Percent-encoded twice (`%2526`), as a proxy re-encoding a URL leaves it.
        let twice = text.get(start..start + 5)?;
        (twice[..3].eq_ignore_ascii_case(b"%25") && hex_byte(&twice[3..])? == want)
            .then(|| match_at(text, start + 5, rest))
            .flatten()
    })
}

/// The byte an escape at the start of `text` stands for, and the escape's length.
fn unescape(text: &[u8]) -> Option<(u8, usize)> {
    match *text.first()? {
        b'%' => Some((hex_byte(text.get(1..3)?)?, 3)),
        b'+' => Some((b' ', 1)),
        b'\\' => match *text.get(1)? {
            b'u' => {
                let high = hex_byte(text.get(2..4)?)?;
                let low = hex_byte(text.get(4..6)?)?;
                (high == 0 && low.is_ascii()).then_some((low, 6))
            }
            c @ (b'"' | b'\\' | b'/') => Some((c, 2)),
            _ => None,
        },
        b'&' => {
            let end = text.iter().take(8).position(|&b| b == b';')?;
            let byte = match &text[1..end] {
                b"amp" => b'&',
                b"lt" => b'<',
                b"gt" => b'>',
                b"quot" => b'"',
                b"apos" => b'\'',
                [b'#', b'x' | b'X', hex @ ..] => {
                    u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?
                }
                [b'#', dec @ ..] => std::str::from_utf8(dec).ok()?.parse().ok()?,
                _ => return None,
            };
            byte.is_ascii().then_some((byte, end + 1))
        }
        _ => None,
    }
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    u8::from_str_radix(std::str::from_utf8(two).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::redact;

    const KEY: &str = "k&=+ y/\"Z";

    #[test]
    fn every_encoded_form_of_a_secret_is_masked() {
        for form in [
            KEY.to_owned(),
            "k%26%3D%2B%20y%2F%22Z".to_owned(),
            "k%26%3d%2b+y%2f%22Z".to_owned(),
            "k%2526%253D%252B%2520y%252F%2522Z".to_owned(),
            r#"k\u0026=+ y\/\"Z"#.to_owned(),
            "k&amp;=+ y/&quot;Z".to_owned(),
            "k&#38;&#x3D;+ y/&#34;Z".to_owned(),
        ] {
            let text = format!("echo <{form}>");
            assert_eq!(redact(&text, &[KEY]), "echo <[redacted]>", "{form}");
        }
    }

    #[test]
    fn digit_runs_of_six_or_more_are_masked_controls_dropped() {
        assert_eq!(
            redact(
                "id 110105199003071239, mobile 13012345678, at 12:30\x1b[31m 12345",
                &[]
            ),
            "id ******************, mobile ***********, at 12:30[31m 12345"
        );
        assert_eq!(
            redact("身份证11010519491231002X", &[]),
            "身份证*****************X"
        );
    }

    #[test]
    fn near_misses_and_empty_secrets_are_left_alone() {
        assert_eq!(redact("k%2", &["k&"]), "k%2");
        assert_eq!(redact("100%", &["%"]), "100[redacted]");
        assert_eq!(redact("plain text", &["", "xyz"]), "plain text");
        assert_eq!(redact("a&am;", &["a&"]), "[redacted]am;");
        assert_eq!(redact("错误的请求KEY", &["KEY"]), "错误的请求[redacted]");
    }
}
