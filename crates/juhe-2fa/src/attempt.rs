//! `Attempt`: what a pre-send hook is told.

/// One attempt of a check, as a pre-send hook sees it
/// ([`Client::verify_with`](crate::Client::verify_with)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    number: u32,
}

impl Attempt {
    pub(crate) fn new(number: u32) -> Attempt {
        Attempt { number }
    }

    /// 1 for the first attempt, 2 for the first retry, …
    pub fn number(self) -> u32 {
        self.number
    }

    /// Whether this attempt is a retry.
    pub fn is_retry(self) -> bool {
        self.number > 1
    }
}
