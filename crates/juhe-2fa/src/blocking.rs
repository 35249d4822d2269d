//! `BlockingClient`: truly blocking (ureq with feature `ureq`, or any [`BlockingTransport`]),
//! no async runtime.

use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use juhe_proto::{IdCard, Mobile};
use juhe_transport::{BlockingTransport, BoxError};

use crate::core::{Core, Prepared, parse_inputs};
use crate::{Attempt, ClientBuilder, Error, Verification};

/// The blocking client. Cheap to clone and `Send + Sync`: share it across threads.
///
/// ```no_run
/// let client = juhe_2fa::BlockingClient::builder().api_key("key").build_blocking()?;
/// let v = client.verify("110105199003071239", "13012345678")?;
/// assert!(v.order_id.starts_with("JH"));
/// # Ok::<(), juhe_2fa::Error>(())
/// ```
#[derive(Clone)]
pub struct BlockingClient {
    pub(crate) core: Arc<Core>,
    pub(crate) transport: Arc<dyn BlockingTransport>,
    #[cfg(feature = "redis")]
    pub(crate) store: Option<Arc<dyn crate::fleet::BlockingSharedStore>>,
}

impl fmt::Debug for BlockingClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingClient")
            .field("endpoint", &self.core.endpoint)
            .field("base_url", &self.core.base_url)
            .finish_non_exhaustive()
    }
}

impl BlockingClient {
    /// A builder (same as [`ClientBuilder::new`]).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Checks one pair; invalid input returns [`Error::InvalidInput`] and sends nothing.
    pub fn verify(&self, idcard: &str, mobile: &str) -> Result<Verification, Error> {
        let (idcard, mobile) = parse_inputs(idcard, mobile)?;
        self.verify_parsed(&idcard, &mobile)
    }

    /// Checks one already-validated pair.
    pub fn verify_parsed(&self, idcard: &IdCard, mobile: &Mobile) -> Result<Verification, Error> {
        self.verify_with(idcard, mobile, |_| Ok(()))
    }

    /// Checks one pair, calling `on_send` just before each attempt goes out; an `Err` from it
    /// cancels the attempt ([`Error::Cancelled`], nothing sent). See
    /// [`Client::verify_with`](crate::Client::verify_with).
    pub fn verify_with(
        &self,
        idcard: &IdCard,
        mobile: &Mobile,
        mut on_send: impl FnMut(Attempt) -> Result<(), BoxError>,
    ) -> Result<Verification, Error> {
        let prepared = self.core.prepare(idcard, mobile)?;
        let _entered = prepared.span.clone().entered();
        #[cfg(feature = "redis")]
        if let (Some(fleet), Some(store)) = (&self.core.fleet, &self.store) {
            let reuse = |answer: &str| self.core.reused(&prepared, answer);
            let held = match fleet.begin_blocking(&**store, (idcard, mobile), reuse)? {
                crate::fleet::Turn::Reused(v) => return Ok(v),
                crate::fleet::Turn::Send(held) => held,
            };
            let result = self.attempts(&prepared, &mut on_send);
            if let Some(held) = held {
                fleet.end_blocking(&**store, held, &result);
            }
            return result;
        }
        self.attempts(&prepared, &mut on_send)
    }

    /// Sends a prepared check until it is answered or retrying stops.
    fn attempts(
        &self,
        prepared: &Prepared,
        on_send: &mut impl FnMut(Attempt) -> Result<(), BoxError>,
    ) -> Result<Verification, Error> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(limit) = &self.core.rate_limit {
                limit.wait_blocking();
            }
            #[cfg(feature = "redis")]
            if let (Some(fleet), Some(store)) = (&self.core.fleet, &self.store) {
                fleet.wait_turn_blocking(&**store)?;
            }
            let request = self.core.request(prepared)?;
            on_send(Attempt::new(attempt)).map_err(Error::Cancelled)?;
            let outcome = self.transport.send(request);
            match self.core.after_attempt(prepared, outcome, attempt, started) {
                ControlFlow::Break(result) => return result,
                ControlFlow::Continue(delay) => std::thread::sleep(delay),
            }
        }
    }
}
