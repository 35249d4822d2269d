//! Text encodings of input files: UTF-8 (with or without a byte order mark) or GBK/GB18030, as
//! Excel in a Chinese locale saves CSV. Input is decoded to UTF-8 for reading; the output is
//! written back in the input's encoding, BOM included, so a GBK file comes back GBK throughout.

use std::io::{Chain, Cursor, Read, Write};

use clap::ValueEnum;
use encoding_rs::GB18030;
use encoding_rs_io::DecodeReaderBytesBuilder;

use crate::error::CliError;

/// `--encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum EncodingArg {
    /// UTF-8 if the start of the file is valid UTF-8, else GBK (GB18030)
    #[default]
    Auto,
    /// UTF-8 (a byte order mark is kept)
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// GBK / GB18030
    Gbk,
}

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    pub gbk: bool,
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

/// Wraps an input as UTF-8 text (BOM removed), and says what it was.
pub fn decode(
    input: Box<dyn Read + Send>,
    choice: EncodingArg,
) -> Result<(Box<dyn Read + Send>, Detected), CliError> {
    let (start, rest) =
        sniff(input).map_err(|e| CliError::failure(format!("cannot read the input: {e}")))?;
    let bom = start.starts_with(BOM);
    let gbk = match choice {
        EncodingArg::Utf8 => false,
        EncodingArg::Gbk => true,
        EncodingArg::Auto => !bom && !is_utf8_start(&start),
    };
    let body = if bom {
        start[BOM.len()..].to_vec()
    } else {
        start
    };
    let whole: Chain<Cursor<Vec<u8>>, Box<dyn Read + Send>> = Cursor::new(body).chain(rest);
    let reader: Box<dyn Read + Send> = if gbk {
        Box::new(
            DecodeReaderBytesBuilder::new()
                .encoding(Some(GB18030))
                .bom_override(false)
                .build(whole),
        )
    } else {
        Box::new(whole)
    };
    Ok((reader, Detected { gbk, bom }))
}

/// A writer taking UTF-8 and writing it in the detected encoding (after a BOM if the input had
/// one). Characters split across writes are held until complete.
pub struct Encode<W: Write> {
    inner: W,
    encoder: Option<encoding_rs::Encoder>,
    pending: Vec<u8>,
    out: Vec<u8>,
}

impl<W: Write> Encode<W> {
    pub fn new(mut inner: W, detected: Detected) -> std::io::Result<Encode<W>> {
        if detected.bom {
            inner.write_all(BOM)?;
        }
        Ok(Encode {
            inner,
            encoder: detected.gbk.then(|| GB18030.new_encoder()),
            pending: Vec::new(),
            out: Vec::new(),
        })
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> std::io::Result<W> {
        self.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Encode<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(encoder) = &mut self.encoder else {
            return self.inner.write(buf);
        };
        self.pending.extend_from_slice(buf);
        let complete = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(std::io::Error::other("output is not UTF-8")),
        };
        let text = std::str::from_utf8(&self.pending[..complete]).expect("checked above");
        self.out.clear();
        self.out.reserve(text.len() * 2 + 16);
        let mut rest = text;
        loop {
            let (result, read, _) = encoder.encode_from_utf8_to_vec(rest, &mut self.out, false);
            rest = &rest[read..];
            if result == encoding_rs::CoderResult::InputEmpty {
                break;
            }
            self.out.reserve(rest.len() * 2 + 16);
        }
        self.inner.write_all(&self.out)?;
        self.pending.drain(..complete);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_round_trips_byte_for_byte_across_split_writes() {
        let gbk: &[u8] = b"name,idcard\n\xd5\xc5\xc8\xfd,1\n";
        let (mut reader, detected) =
            decode(Box::new(Cursor::new(gbk.to_vec())), EncodingArg::Auto).unwrap();
        assert_eq!(
            detected,
            Detected {
                gbk: true,
                bom: false
            }
        );
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "name,idcard\n张三,1\n");
        let mut out = Encode::new(Vec::new(), detected).unwrap();
        for piece in text.as_bytes().chunks(1) {
            out.write_all(piece).unwrap();
        }
        assert_eq!(out.into_inner().unwrap(), gbk);
    }

    #[test]
    fn utf8_bom_is_read_away_and_written_back() {
        let input = b"\xef\xbb\xbfidcard\n".to_vec();
        let (mut reader, detected) =
            decode(Box::new(Cursor::new(input.clone())), EncodingArg::Auto).unwrap();
        assert_eq!(
            detected,
            Detected {
                gbk: false,
                bom: true
            }
        );
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "idcard\n");
        let mut out = Encode::new(Vec::new(), detected).unwrap();
        out.write_all(text.as_bytes()).unwrap();
        assert_eq!(out.into_inner().unwrap(), input);
    }
}
