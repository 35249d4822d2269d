//! `BlockingClient`: truly blocking (ureq with feature `ureq`, or any [`BlockingTransport`]),
//! no async runtime.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use juhe_proto::{IdCard, Mobile};
use juhe_transport::{BlockingTransport, BoxError};

use crate::core::{Core, parse_inputs};
use crate::engine::{Check, Input, Step};
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
    pub(crate) deadline: Option<Duration>,
    pub(crate) context: crate::ledger::Context,
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

    /// Lets the fleet's keeper run (renewing held pairs, finishing dropped checks) on a thread
    /// while it has work.
    pub(crate) fn start_keeper(&self) {
        #[cfg(feature = "redis")]
        if let (Some(fleet), Some(store)) = (&self.core.fleet, &self.store) {
            let store = store.clone();
            fleet.keeper.set_starter(Box::new(move |keeper| {
                let store = store.clone();
                let runner = move || {
                    let _gone = keeper.runner_guard();
                    while let Some(ops) = keeper.round() {
                        for op in ops {
                            let _ = store.run(&op);
                        }
                        keeper.ran();
                        keeper.wait_blocking();
                    }
                };
                std::thread::Builder::new()
                    .name("juhe-2fa-keeper".into())
                    .spawn(runner)
                    .is_ok()
            }));
        }
    }

    /// This client with a deadline for each whole check: attempts, back-off, rate-limit and
    /// fleet waits (see [`ClientBuilder::deadline`]). A cheap clone sharing everything else;
    /// `None` removes it.
    ///
    /// ```
    /// # fn f(client: &juhe_2fa::BlockingClient) {
    /// let quick = client.with_deadline(Some(std::time::Duration::from_secs(2)));
    /// # }
    /// ```
    pub fn with_deadline(&self, deadline: Option<Duration>) -> BlockingClient {
        let mut client = self.clone();
        client.deadline = deadline;
        client
    }

    /// This client recording another caller and purpose with its checks (the audit
    /// ledger, [`ClientBuilder::ledger`]): a cheap clone sharing everything else.
    pub fn with_context(&self, context: crate::ledger::Context) -> BlockingClient {
        let mut client = self.clone();
        client.context = context;
        client
    }

    /// Finishes the fleet's pending work before the client goes away (feature `redis`): the
    /// pairs of calls dropped mid-way are freed (or settled ambiguous) in the background;
    /// call this before a process exits or its runtime shuts down, so other processes do not
    /// wait for those pairs' leases. Waits at most 2 s; does nothing without a fleet.
    pub fn close(&self) {
        #[cfg(feature = "redis")]
        if let Some(fleet) = &self.core.fleet {
            const POLL: Duration = Duration::from_millis(10);
            let until = std::time::Instant::now() + Duration::from_secs(2);
            while fleet.busy() && std::time::Instant::now() < until {
                std::thread::sleep(POLL);
            }
        }
    }

    /// Checks one pair; invalid input returns [`Error::InvalidInput`] and sends nothing.
    pub fn verify(&self, idcard: &str, mobile: &str) -> Result<Verification, Error> {
        let (idcard, mobile) =
            parse_inputs(idcard, mobile).inspect_err(|e| self.core.rejected(&self.context, e))?;
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
        let mut check = Check::new(&self.core, (idcard, mobile), self.deadline, &self.context)?;
        let _entered = check.span().clone().entered();
        let mut input = Input::Go;
        loop {
            input = match check.step(input) {
                Step::Sleep(wait) => {
                    std::thread::sleep(wait);
                    Input::Go
                }
                Step::Hook(attempt) => Input::Hooked(on_send(attempt)),
                Step::Send(request) => Input::Answered(self.transport.send(request)),
                Step::Ledger(call) => self.core.ledger_call(call),
                #[cfg(feature = "redis")]
                Step::Store(op) => Input::Stored(match &self.store {
                    Some(store) => store.run(&op),
                    None => Err("no shared store".into()),
                }),
                Step::Done(result) => return result,
            }
        }
    }
}
