//! Text encodings of input files: UTF-8 (with or without a byte order mark) or GBK/GB18030, as
//! Excel in a Chinese locale saves CSV; UTF-16 is refused with a clear message. Only the fields
//! we read (the header names, `idcard`, `mobile`) are decoded; every other byte is written back
//! exactly as it came, and the columns we add are encoded in the input's encoding, after its
//! BOM, so a GBK file comes back GBK throughout — even bytes GBK does not define.

use std::borrow::Cow;
use std::io::{Chain, Cursor, Read};
use std::path::Path;

use encoding_rs::GB18030;

use crate::error::Error;

/// The encoding an input is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// UTF-8 if the start of the file is valid UTF-8, else GBK (GB18030).
    #[default]
    Auto,
    /// UTF-8 (a byte order mark is kept).
    Utf8,
    /// GBK / GB18030.
    Gbk,
}

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// GBK (GB18030), not UTF-8.
    pub gbk: bool,
    /// The file starts with a UTF-8 byte order mark.
    pub bom: bool,
}

/// How much of the start of a file `auto` looks at.
const SNIFF: usize = 64 * 1024;
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Reads up to `SNIFF` bytes without losing them: the sniffed start, then the rest.
fn sniff(mut input: Box<dyn Read + Send>) -> std::io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut start = Vec::with_capacity(SNIFF);
    (&mut input).take(SNIFF as u64).read_to_end(&mut start)?;
    Ok((start, input))
}

fn is_utf8_start(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        // A character cut at the end of the sniffed window is not an error.
        Err(e) => e.error_len().is_none(),
    }
}

/// True when the start of a file looks like UTF-16: a UTF-16 byte order mark, or the zero
/// bytes that every ASCII character has in UTF-16 (text in UTF-8 or GBK has none).
fn is_utf16_start(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        return true;
    }
    let pairs = bytes.len().min(4096) / 2;
    if pairs == 0 {
        return false;
    }
    let zeros_at = |parity: usize| {
        bytes[..pairs * 2]
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    // Mostly-ASCII UTF-16 has a zero in almost every pair; a stray NUL in a text file is rare.
    zeros_at(0).max(zeros_at(1)) * 4 >= pairs
}

/// Looks at the start of an input: refuses UTF-16, finds a UTF-8 byte order mark (skipped: the
/// reader starts after it) and whether the text is GBK. The bytes are not decoded: the columns
/// that are not parsed go back out exactly as they came.
/// `path` only names the input in messages.
pub fn sniff_input(
    input: Box<dyn Read + Send>,
    choice: Encoding,
    path: &Path,
) -> Result<(Box<dyn Read + Send>, Detected), Error> {
    let (start, rest) = sniff(input).map_err(Error::read)?;
    if is_utf16_start(&start) {
        return Err(Error::Utf16 {
            path: path.to_owned(),
        });
    }
    let bom = start.starts_with(BOM);
    let gbk = match choice {
        Encoding::Utf8 => false,
        Encoding::Gbk => true,
        Encoding::Auto => !bom && !is_utf8_start(&start),
    };
    let body = if bom {
        start[BOM.len()..].to_vec()
    } else {
        start
    };
    let whole: Chain<Cursor<Vec<u8>>, Box<dyn Read + Send>> = Cursor::new(body).chain(rest);
    Ok((Box::new(whole), Detected { gbk, bom }))
}

impl Detected {
    /// `bytes` as text when they are valid in this encoding; `None` rather than a replacement
    /// character.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
        if self.gbk {
            GB18030.decode_without_bom_handling_and_without_replacement(bytes)
        } else {
            std::str::from_utf8(bytes).ok().map(Cow::Borrowed)
        }
    }

    /// `bytes` as text, invalid sequences replaced (for matching names, never written back).
    pub fn decode_lossy<'a>(&self, bytes: &'a [u8]) -> Cow<'a, str> {
        if self.gbk {
            GB18030.decode_without_bom_handling(bytes).0
        } else {
            String::from_utf8_lossy(bytes)
        }
    }

    /// Text we add to the output, in this encoding (GB18030 encodes every character).
    pub fn encode<'a>(&self, text: &'a str) -> Cow<'a, [u8]> {
        if self.gbk {
            GB18030.encode(text).0
        } else {
            Cow::Borrowed(text.as_bytes())
        }
    }

    /// The encoding's name, for messages.
    pub fn name(&self) -> &'static str {
        if self.gbk { "GBK" } else { "UTF-8" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniffed(bytes: &[u8]) -> Result<(Vec<u8>, Detected), Error> {
        let (mut reader, detected) = sniff_input(
            Box::new(Cursor::new(bytes.to_vec())),
            Encoding::Auto,
            Path::new("in.csv"),
        )?;
        let mut body = Vec::new();
        reader.read_to_end(&mut body).unwrap();
        Ok((body, detected))
    }

    #[test]
    fn gbk_is_detected_and_bytes_are_not_touched() {
        let gbk: &[u8] = b"name,idcard\n\xd5\xc5\xc8\xfd\x80,1\n";
        let (body, detected) = sniffed(gbk).unwrap();
        assert_eq!(body, gbk);
        assert_eq!(
            detected,
            Detected {
                gbk: true,
                bom: false
            }
        );
        assert_eq!(
            detected.decode(b"\xd5\xc5\xc8\xfd").as_deref(),
            Some("张三")
        );
        assert_eq!(
            detected.decode(b"\x84\x31"),
            None,
            "no replacement character"
        );
        assert_eq!(&*detected.encode("匹配"), &*GB18030.encode("匹配").0);
    }

    #[test]
    fn utf8_bom_is_skipped_and_remembered() {
        let (body, detected) = sniffed(b"\xef\xbb\xbfidcard\n").unwrap();
        assert_eq!(body, b"idcard\n");
        assert_eq!(
            detected,
            Detected {
                gbk: false,
                bom: true
            }
        );
    }

    #[test]
    fn utf16_with_or_without_bom_is_refused() {
        let text = "idcard,mobile\r\n110105199003071239,13012345678\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for (bytes, what) in [
            ([&b"\xff\xfe"[..], &le].concat(), "LE with BOM"),
            ([&b"\xfe\xff"[..], &be].concat(), "BE with BOM"),
            (le, "LE"),
            (be, "BE"),
        ] {
            let e = sniffed(&bytes).unwrap_err();
            assert!(
                matches!(&e, Error::Utf16 { .. }) && e.to_string().contains("UTF-16"),
                "{what}"
            );
        }
        assert!(sniffed(b"idcard,mobile\n").is_ok());
    }
}
