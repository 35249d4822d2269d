//! The audit ledger's seam: every check is admitted before its first request and recorded at
//! its end, through both clients; a ledger that cannot record refuses the check.

use std::sync::{Arc, Mutex};

use juhe_2fa::ledger::{Billed, Context, Entry, Outcome};
use juhe_2fa::{BlockingClient, Client, Error, ErrorClass, Ledger, RetryPolicy};
use juhe_sandbox::{Fault, FaultPlan, Sandbox, demo};

/// Keeps what it is told; refuses to admit while `down`.
#[derive(Clone, Default)]
struct Memory {
    entries: Arc<Mutex<Vec<Entry>>>,
    rejected: Arc<Mutex<u32>>,
    down: Arc<Mutex<bool>>,
}

impl Ledger for Memory {
    fn admit(&self, _: &Context) -> Result<(), juhe_2fa::BoxError> {
        match *self.down.lock().unwrap() {
            true => Err("the ledger database is unreachable".into()),
            false => Ok(()),
        }
    }

    fn record(&self, entry: &Entry) -> Result<(), juhe_2fa::BoxError> {
        self.entries.lock().unwrap().push(entry.clone());
        Ok(())
    }

    fn rejected(&self, _: &Context, _: juhe_2fa::Endpoint) -> Result<(), juhe_2fa::BoxError> {
        *self.rejected.lock().unwrap() += 1;
        Ok(())
    }
}

impl Memory {
    fn outcomes(&self) -> Vec<(Outcome, Billed, u32)> {
        let entries = self.entries.lock().unwrap();
        entries
            .iter()
            .map(|e| (e.outcome, e.billed, e.attempts))
            .collect()
    }
}

#[tokio::test]
async fn every_check_of_the_async_client_is_recorded() {
    let sandbox = Sandbox::builder()
        .faults(
            FaultPlan::new()
                .then_times(Fault::None, 3)
                .then(Fault::DelayMs(3000)),
        )
        .spawn()
        .await
        .unwrap();
    let ledger = Memory::default();
    let client = Client::builder()
        .api_key(demo::API_KEY)
        .base_url(sandbox.base_url())
        .timeout(std::time::Duration::from_millis(500))
        .retry_policy(RetryPolicy::none())
        .ledger(ledger.clone())
        .caller("signup-service")
        .purpose("account opening")
        .build()
        .unwrap();
    client.verify(demo::MATCH.0, demo::MATCH.1).await.unwrap();
    client
        .verify(demo::MISMATCH.0, demo::MISMATCH.1)
        .await
        .unwrap();
    let e = client
        .verify(demo::NO_RECORD.0, demo::NO_RECORD.1)
        .await
        .unwrap_err();
    assert!(matches!(e.class(), ErrorClass::Api(_)));
    let e = client
        .verify(demo::MATCH.0, demo::MATCH.1)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Ambiguous);
    client
        .verify("110105199003071230", demo::MATCH.1)
        .await
        .unwrap_err();
    assert_eq!(
        ledger.outcomes(),
        vec![
            (Outcome::Match, Billed::Yes, 1),
            (Outcome::Mismatch, Billed::Yes, 1),
            (Outcome::ApiError, Billed::No, 1),
            (Outcome::Ambiguous, Billed::Maybe, 1),
        ]
    );
    assert_eq!(
        *ledger.rejected.lock().unwrap(),
        1,
        "the invalid number is counted"
    );
    let entries = ledger.entries.lock().unwrap();
    let first = &entries[0];
    assert_eq!(first.context.caller.as_deref(), Some("signup-service"));
    assert_eq!(first.context.purpose.as_deref(), Some("account opening"));
    assert!(
        first
            .order_id
            .as_deref()
            .is_some_and(|o| o.starts_with("JH"))
    );
    let shown = format!("{entries:?}");
    assert!(
        !shown.contains(demo::MATCH.0) && !shown.contains(demo::MATCH.1),
        "{shown}"
    );
}

#[test]
fn a_ledger_that_cannot_record_refuses_the_check_unless_optional() {
    let sandbox = Sandbox::builder().spawn_blocking().unwrap();
    let ledger = Memory::default();
    *ledger.down.lock().unwrap() = true;
    let builder = BlockingClient::builder()
        .api_key(demo::API_KEY)
        .base_url(sandbox.base_url())
        .ledger(ledger.clone());
    let client = builder.clone().build_blocking().unwrap();
    let e = client.verify(demo::MATCH.0, demo::MATCH.1).unwrap_err();
    assert!(matches!(e, Error::Ledger(_)), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Config);
    assert!(e.nothing_sent());
    assert_eq!(sandbox.stats().requests, 0, "nothing sent unrecorded");
    // The refusal is recorded as such when the ledger can record it.
    let optional = builder.ledger_optional(true).build_blocking().unwrap();
    let per_call = optional.with_context(Context::new(Some("ops".into()), None));
    per_call.verify(demo::MATCH.0, demo::MATCH.1).unwrap();
    assert_eq!(sandbox.stats().requests, 1);
    let entries = ledger.entries.lock().unwrap();
    let last = entries.last().unwrap();
    assert_eq!((last.outcome, last.billed), (Outcome::Match, Billed::Yes));
    assert_eq!(last.context.caller.as_deref(), Some("ops"));
}

/// A check whose caller goes away while its request is out (an HTTP client that hangs up on a
/// gateway, a timeout around the call) is still recorded: maybe billed, with its caller. One
/// dropped before anything left is not.
#[tokio::test]
async fn a_check_dropped_while_its_request_is_out_is_recorded_as_maybe_billed() {
    let sandbox = Sandbox::builder()
        .faults(FaultPlan::new().then(Fault::DelayMs(1500)))
        .spawn()
        .await
        .unwrap();
    let ledger = Memory::default();
    let client = Client::builder()
        .api_key(demo::API_KEY)
        .base_url(sandbox.base_url())
        .retry_policy(RetryPolicy::none())
        .rate_limit(0.5)
        .ledger(ledger.clone())
        .caller("signup-service")
        .build()
        .unwrap();
    let out = client.verify(demo::MATCH.0, demo::MATCH.1);
    let gave_up = tokio::time::timeout(std::time::Duration::from_millis(300), out).await;
    assert!(gave_up.is_err(), "the sandbox answers after 1.5 s");
    // The rate (one check per 2 s) holds the next one before it sends: dropped unsent.
    let held = client.verify(demo::MISMATCH.0, demo::MISMATCH.1);
    let gave_up = tokio::time::timeout(std::time::Duration::from_millis(300), held).await;
    assert!(gave_up.is_err());
    assert_eq!(
        ledger.outcomes(),
        vec![(Outcome::Ambiguous, Billed::Maybe, 1)]
    );
    let entries = ledger.entries.lock().unwrap();
    assert_eq!(entries[0].context.caller.as_deref(), Some("signup-service"));
}
