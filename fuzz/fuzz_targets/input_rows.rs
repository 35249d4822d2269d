//! `juhe_batch`'s CSV and JSONL row reader on arbitrary files: every record becomes a row or a
//! typed error, never a panic, and a row is either a pair or says why not.
#![no_main]

use std::path::Path;

use juhe_batch::{Encoding, Format, RowReader, sniff_input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Csv, Format::Jsonl] {
        let bytes: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(data.to_vec()));
        // Through the encoding sniffer first, as `batch` reads a file.
        let Ok((text, encoding)) = sniff_input(bytes, Encoding::Auto, Path::new("fuzz")) else {
            continue;
        };
        let Ok(mut reader) = RowReader::from_reader(text, format, Path::new("fuzz"), encoding)
        else {
            continue;
        };
        let mut count = 0u64;
        while let Some(row) = reader.next_row() {
            let Ok(row) = row else { break };
            count += 1;
            assert_eq!(row.number, count);
            assert!(row.malformed.is_some() || (row.idcard.is_some() && row.mobile.is_some()));
        }
    }
});
