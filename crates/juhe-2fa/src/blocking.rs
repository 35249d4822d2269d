//! `BlockingClient`: truly blocking (ureq), no async runtime.

use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use juhe_proto::{IdCard, Mobile};
use juhe_transport::{BlockingTransport, UreqTransport};

use crate::core::{Core, parse_inputs};
use crate::{ClientBuilder, Error, Verification};

/// The blocking client. Cheap to clone and `Send + Sync`: share it across threads.
///
/// ```no_run
/// let client = juhe_2fa::ClientBuilder::new().api_key("key").build_blocking()?;
/// let v = client.verify("110105199003071239", "13012345678")?;
/// assert!(v.order_id.starts_with("JH"));
/// # Ok::<(), juhe_2fa::Error>(())
/// ```
#[derive(Clone)]
pub struct BlockingClient {
    core: Arc<Core>,
    transport: Arc<dyn BlockingTransport>,
}

impl fmt::Debug for BlockingClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingClient")
            .field("endpoint", &self.core.endpoint)
            .field("base_url", &self.core.base_url)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Builds the blocking client over ureq.
    pub fn build_blocking(self) -> Result<BlockingClient, Error> {
        let (core, config) = self.into_core()?;
        let transport = UreqTransport::new(&config).map_err(|e| Error::Config {
            problem: "the HTTP client could not be set up".into(),
            source: Some(Box::new(e)),
        })?;
        Ok(BlockingClient {
            core: Arc::new(core),
            transport: Arc::new(transport),
        })
    }

    /// Builds the blocking client over your own [`BlockingTransport`].
    pub fn build_blocking_with_transport(
        self,
        transport: impl BlockingTransport + 'static,
    ) -> Result<BlockingClient, Error> {
        let (core, _) = self.into_core()?;
        Ok(BlockingClient {
            core: Arc::new(core),
            transport: Arc::new(transport),
        })
    }
}

impl BlockingClient {
    /// Checks one pair; invalid input returns [`Error::InvalidInput`] and sends nothing.
    pub fn verify(&self, idcard: &str, mobile: &str) -> Result<Verification, Error> {
        let (idcard, mobile) = parse_inputs(idcard, mobile)?;
        self.verify_parsed(&idcard, &mobile)
    }

    /// Checks one already-validated pair.
    pub fn verify_parsed(&self, idcard: &IdCard, mobile: &Mobile) -> Result<Verification, Error> {
        let prepared = self.core.prepare(idcard, mobile)?;
        let _entered = prepared.span.clone().entered();
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(limit) = &self.core.rate_limit {
                limit.wait_blocking();
            }
            let request = self.core.request(&prepared)?;
            let started = Instant::now();
            let outcome = self.transport.send(request);
            match self
                .core
                .after_attempt(&prepared, outcome, attempt, started.elapsed())
            {
                ControlFlow::Break(result) => return result,
                ControlFlow::Continue(delay) => std::thread::sleep(delay),
            }
        }
    }
}
