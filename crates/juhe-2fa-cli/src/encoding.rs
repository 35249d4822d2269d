//! `--encoding`: the input's text encoding, as the command line spells it (the reading itself
//! is `juhe_batch`'s).

use clap::ValueEnum;
use juhe_batch::Encoding;

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

impl From<EncodingArg> for Encoding {
    fn from(arg: EncodingArg) -> Encoding {
        match arg {
            EncodingArg::Auto => Encoding::Auto,
            EncodingArg::Utf8 => Encoding::Utf8,
            EncodingArg::Gbk => Encoding::Gbk,
        }
    }
}
