//! What both clients share: preparing a check, building each attempt's request, reading the
//! answer, and deciding whether to try again. Only the sending and the sleeping differ.

use std::ops::ControlFlow;
use std::time::Duration;

use juhe_crypto::FieldEncryptor;
use juhe_proto::{Carrier, Endpoint, IdCard, Method, Mobile, QueryParams};
use juhe_transport::{HttpRequest, HttpResponse, TransportError};

use crate::rate_limit::RateLimit;
use crate::{ApiKey, CarrierPolicy, Error, RetryPolicy, Verification};

pub(crate) struct Core {
    pub(crate) api_key: ApiKey,
    pub(crate) base_url: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) method: Method,
    pub(crate) encryptor: Box<dyn FieldEncryptor>,
    pub(crate) retry: RetryPolicy,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) carrier_policy: CarrierPolicy,
}

/// A check ready to send: fields encrypted once, reused by every attempt.
pub(crate) struct Prepared {
    idcard: String,
    mobile: String,
    pub(crate) carrier: Carrier,
    pub(crate) span: tracing::Span,
}

pub(crate) fn parse_inputs(idcard: &str, mobile: &str) -> Result<(IdCard, Mobile), Error> {
    let idcard = IdCard::parse(idcard).map_err(Error::InvalidInput)?;
    let mobile = Mobile::parse(mobile).map_err(Error::InvalidInput)?;
    Ok((idcard, mobile))
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
            span.in_scope(|| tracing::warn!(%carrier, "not a China Unicom segment; the API may answer 232903"));
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
        let params = QueryParams {
            key: self.api_key.expose_secret(),
            idcard: &prepared.idcard,
            mobile: &prepared.mobile,
        };
        juhe_proto::build_request(&self.base_url, self.endpoint, self.method, &params)
            .map_err(Error::from_proto)
    }

    /// Reads one attempt's outcome: `Break` with the final result, or `Continue` with the wait
    /// before the next attempt.
    pub(crate) fn after_attempt(
        &self,
        prepared: &Prepared,
        outcome: Result<HttpResponse, TransportError>,
        attempt: u32,
        latency: Duration,
    ) -> ControlFlow<Result<Verification, Error>, Duration> {
        let result = outcome
            .map_err(Error::Transport)
            .and_then(|response| juhe_proto::parse_response(&response).map_err(Error::from_proto));
        let span = &prepared.span;
        span.record("attempts", attempt);
        span.record("latency_ms", latency.as_millis() as u64);
        match result {
            Ok(answer) => {
                span.record("order_id", answer.order_id.as_str());
                span.in_scope(|| tracing::info!(verdict = %answer.verdict, "check answered"));
                ControlFlow::Break(Ok(Verification {
                    verdict: answer.verdict,
                    order_id: answer.order_id,
                    mode: self.endpoint,
                    attempts: attempt,
                    carrier: prepared.carrier,
                }))
            }
            Err(error) => match self.retry.delay_for(&error, attempt) {
                Some(delay) => {
                    span.in_scope(|| tracing::warn!(%error, attempt, delay_ms = delay.as_millis() as u64, "retrying"));
                    ControlFlow::Continue(delay)
                }
                None => {
                    span.in_scope(|| tracing::debug!(%error, attempt, ambiguous = error.is_ambiguous(), "check failed"));
                    ControlFlow::Break(Err(error))
                }
            },
        }
    }
}
