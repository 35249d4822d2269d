//! What every check of a client shares: its settings, preparing a check (validated, encrypted
//! once), building each attempt's request, and reading the answer. The order of a check is in
//! `engine.rs`.

use juhe_crypto::FieldEncryptor;
use juhe_proto::{Answer, Carrier, Endpoint, IdCard, Method, Mobile, QueryParams};
use juhe_transport::{HttpRequest, HttpResponse, TransportError};

use crate::rate_limit::RateLimit;
use crate::{ApiKey, CarrierPolicy, Error, RetryPolicy};

pub(crate) struct Core {
    pub(crate) api_key: ApiKey,
    pub(crate) base_url: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) method: Method,
    pub(crate) encryptor: Box<dyn FieldEncryptor>,
    pub(crate) retry: RetryPolicy,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) carrier_policy: CarrierPolicy,
    #[cfg(feature = "redis")]
    pub(crate) fleet: Option<crate::fleet::FleetCore>,
    pub(crate) ledger: Option<LedgerSettings>,
    pub(crate) budgets: Option<crate::budget::Budgets>,
}

/// The audit ledger and whether a check may go on when it cannot record.
pub(crate) struct LedgerSettings {
    pub(crate) ledger: std::sync::Arc<dyn crate::Ledger>,
    pub(crate) optional: bool,
}

/// A check ready to send: fields encrypted once, reused by every attempt.
pub(crate) struct Prepared {
    idcard: String,
    mobile: String,
    pub(crate) carrier: Carrier,
    pub(crate) span: tracing::Span,
}

pub(crate) fn parse_inputs(idcard: &str, mobile: &str) -> Result<(IdCard, Mobile), Error> {
    Ok((IdCard::parse(idcard)?, Mobile::parse(mobile)?))
}

/// At most this much of an undecodable body reaches the debug log, redacted.
const EXCERPT_CHARS: usize = 80;

/// A short excerpt of a body for a debug log, masked by [`juhe_proto::redact`]: the request's
/// secrets (the API key, raw or encoded, and the fields as sent), every run of 6 or more digits
/// (ID and mobile numbers, whatever a middlebox echoed), control characters.
pub(crate) fn redacted_excerpt(body: &[u8], secrets: &[&str]) -> String {
    let text = String::from_utf8_lossy(body);
    juhe_proto::redact(&text, secrets)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

impl Core {
    pub(crate) fn prepare(&self, idcard: &IdCard, mobile: &Mobile) -> Result<Prepared, Error> {
        let span = tracing::info_span!(
            "juhe_verify",
            mode = %self.endpoint,
            idcard = %idcard,
            mobile = %mobile,
            attempts = tracing::field::Empty,
            order_id = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let carrier = mobile.carrier();
        if carrier != Carrier::Unicom {
            if self.carrier_policy == CarrierPolicy::Refuse {
                return Err(Error::UnsupportedCarrier {
                    carrier,
                    mobile: mobile.masked(),
                });
            }
            let expected = juhe_proto::ErrorCode::UnsupportedMobile.code();
            span.in_scope(|| tracing::warn!(%carrier, expected, "not a China Unicom segment; the API may refuse it"));
        }
        let encrypt = |value: &str| self.encryptor.encrypt(value).map_err(Error::Crypto);
        Ok(Prepared {
            idcard: encrypt(idcard.as_unmasked_str())?,
            mobile: encrypt(mobile.as_unmasked_str())?,
            carrier,
            span,
        })
    }

    pub(crate) fn request(&self, prepared: &Prepared) -> Result<HttpRequest, Error> {
        let params = QueryParams::new(
            self.api_key.expose_secret(),
            &prepared.idcard,
            &prepared.mobile,
        );
        Ok(juhe_proto::build_request(
            &self.base_url,
            self.endpoint,
            self.method,
            &params,
        )?)
    }

    /// The answer in `outcome`. What the request carried (the key, the fields as sent) is
    /// masked wherever the answer may echo it: `reason`, the debug excerpt; an order id that
    /// echoes it is a decode error.
    pub(crate) fn read(
        &self,
        prepared: &Prepared,
        outcome: Result<HttpResponse, TransportError>,
    ) -> Result<Answer, Error> {
        let response = outcome.map_err(Error::Transport)?;
        let secrets = [
            self.api_key.expose_secret(),
            prepared.idcard.as_str(),
            prepared.mobile.as_str(),
        ];
        let answer = juhe_proto::parse_response_redacting(&response, &secrets).map_err(|e| {
            if matches!(e, juhe_proto::ResponseError::Decode(_))
                && tracing::enabled!(tracing::Level::DEBUG)
            {
                let excerpt = redacted_excerpt(response.body(), &secrets);
                tracing::debug!(status = response.status().as_u16(), %excerpt, "undecodable answer");
            }
            match Error::from(e) {
                Error::Api { code, reason, .. } => Error::Api {
                    code,
                    reason,
                    mode: self.endpoint,
                },
                other => other,
            }
        })?;
        Ok(answer)
    }
}

impl Core {
    /// Runs a ledger call the engine asked for, and gives the engine its outcome.
    pub(crate) fn ledger_call(&self, call: crate::engine::LedgerCall) -> crate::engine::Input {
        use crate::engine::{Input, LedgerCall};
        let Some(settings) = &self.ledger else {
            return Input::Ledger(Ok(()));
        };
        let ledger = &settings.ledger;
        match call {
            LedgerCall::Admit(context) => Input::Ledger(ledger.admit(&context)),
            LedgerCall::Record(entry) => Input::Ledger(ledger.record(&entry)),
            LedgerCall::Count { caller, windows } => Input::Counted(
                windows
                    .into_iter()
                    .map(|(mine, budget, window, since)| {
                        let counted = match (mine, caller.as_deref()) {
                            (true, Some(caller)) => ledger.billable_since_for(caller, since),
                            _ => ledger.billable_since(since),
                        };
                        let count = counted.unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "the audit ledger could not count the budget's spend");
                            None
                        });
                        (mine, budget, window, count)
                    })
                    .collect(),
            ),
        }
    }

    /// A check refused before it could start (invalid input, unsupported carrier, a key that
    /// cannot encrypt): counted by the metrics and the ledger.
    pub(crate) fn rejected(&self, context: &crate::ledger::Context, error: &Error) {
        crate::engine::count_rejection(self.endpoint, error);
        let Some(settings) = &self.ledger else {
            return;
        };
        if let Err(e) = settings.ledger.rejected(context, self.endpoint) {
            tracing::warn!(error = %e, "the audit ledger could not count a rejected check");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn excerpts_mask_the_key_and_numbers() {
        let body = b"<p>key=SECRET&idcard=110105199003071239&mobile=13012345678 at 12:30\r\n</p>";
        let text = super::redacted_excerpt(body, &["SECRET"]);
        assert_eq!(
            text,
            "<p>key=[redacted]&idcard=******************&mobile=*********** at 12:30</p>"
        );
        assert_eq!(super::redacted_excerpt(&[b'x'; 500], &[]).len(), 80);
    }

    /// A key echoed percent-encoded (as a form or a query string carries it) is masked too.
    #[test]
    fn excerpts_mask_the_key_in_its_encoded_forms() {
        let key = "k&=+/ y";
        for echoed in ["k%26%3D%2B%2F+y", "k%26%3d%2b%2f%20y", r"k\u0026=+\/ y"] {
            let body = format!("<pre>key={echoed}&mobile=13012345678</pre>");
            assert_eq!(
                super::redacted_excerpt(body.as_bytes(), &[key]),
                "<pre>key=[redacted]&mobile=***********</pre>",
                "{echoed}"
            );
        }
    }
}
