//! How the async client waits between attempts, on whatever runtime it runs on.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A future that completes after a delay.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Sleeps for the async client's retry backoff. The default ([`DefaultTimer`]) uses tokio's
/// timer inside a tokio runtime and a runtime-free timer thread elsewhere, so a custom
/// [`Transport`](crate::Transport) on another runtime needs nothing; a closure
/// `Fn(Duration) -> impl Future` is a timer too.
///
/// ```
/// use std::time::Duration;
/// let client = juhe_2fa::Client::builder()
///     .api_key("key")
///     .timer(|d: Duration| async move { futures_timer_like_sleep(d).await })
///     .build_with_transport(|_req| async { Err(juhe_2fa::TransportError::not_sent(
///         juhe_2fa::NotSentReason::Connect, None)) })?;
/// # async fn futures_timer_like_sleep(_: Duration) {}
/// # Ok::<(), juhe_2fa::Error>(())
/// ```
pub trait Timer: Send + Sync + 'static {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Sleep;
}

impl<F, Fut> Timer for F
where
    F: Fn(Duration) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(self(duration))
    }
}

/// tokio's timer when called inside a tokio runtime (with the `reqwest` feature), else
/// `futures-timer`'s global timer thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultTimer;

impl Timer for DefaultTimer {
    fn sleep(&self, duration: Duration) -> Sleep {
        #[cfg(feature = "reqwest")]
        if tokio::runtime::Handle::try_current().is_ok() {
            return Box::pin(tokio::time::sleep(duration));
        }
        Box::pin(futures_timer::Delay::new(duration))
    }
}
