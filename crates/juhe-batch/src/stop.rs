//! Stopping a job from outside, and the client timer that lets it stop promptly.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Once the job stops, the client's waits (retry backoff, rate slots) shrink to this: a row
/// whose earlier attempt went out then reaches its next pre-send hook promptly, which refuses.
const HALTED_POLL: Duration = Duration::from_millis(10);

/// Stops a job: nothing new is sent from then on (the pre-send hook refuses, rows waiting for
/// a rate slot or a back-off stay pending), requests already on the wire finish and are
/// recorded, and the output is not written (a rerun writes it whole).
///
/// Cloneable; every clone stops the same job. The job stops itself through it too (an
/// account-level code, wrong key material, a failed output write). Give it to the client as
/// its timer ([`ClientBuilder::timer`](juhe_2fa::ClientBuilder::timer)) so that the client's
/// own waits end early once the job stops.
#[derive(Debug, Clone)]
pub struct StopHandle {
    halt: Arc<watch::Sender<bool>>,
}

impl Default for StopHandle {
    fn default() -> StopHandle {
        StopHandle::new()
    }
}

impl StopHandle {
    /// A handle for a job not stopped yet.
    pub fn new() -> StopHandle {
        StopHandle {
            halt: Arc::new(watch::channel(false).0),
        }
    }

    /// Stops the job (again: no effect).
    pub fn stop(&self) {
        self.halt.send_replace(true);
    }

    /// True once the job has stopped, for any reason.
    pub fn is_stopped(&self) -> bool {
        *self.halt.borrow()
    }

    /// Resolves once the job has stopped.
    pub async fn stopped(&self) {
        let mut halt = self.halt.subscribe();
        // An error means the sender is gone, which it is not while `self` lives.
        let _ = halt.wait_for(|stopped| *stopped).await;
    }
}

/// Tokio's timer, cut short once the job stops. Needs a tokio runtime with time enabled.
impl juhe_2fa::Timer for StopHandle {
    fn sleep(&self, wait: Duration) -> juhe_2fa::Sleep {
        let mut halt = self.halt.subscribe();
        Box::pin(async move {
            let halted = async {
                if halt.wait_for(|stopped| *stopped).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = halted => tokio::time::sleep(wait.min(HALTED_POLL)).await,
            }
        })
    }
}
