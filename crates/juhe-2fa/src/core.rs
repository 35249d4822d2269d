//! What both clients share: preparing a check, building each attempt's request, reading the
//! answer, and deciding whether to try again. Only the sending and the sleeping differ.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use juhe_crypto::FieldEncryptor;
use juhe_proto::{Answer, Carrier, Endpoint, IdCard, Method, Mobile, QueryParams};
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
    #[cfg(feature = "redis")]
    pub(crate) fleet: Option<crate::fleet::FleetCore>,
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

/// A short excerpt of a body for a debug log: the API key and every run of 6 or more digits
/// (ID and mobile numbers, whatever a middlebox echoed) masked, control characters dropped.
pub(crate) fn redacted_excerpt(body: &[u8], key: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let text = if key.is_empty() {
        text.into_owned()
    } else {
        text.replace(key, "[key]")
    };
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 6 {
            out.extend(std::iter::repeat_n('*', digits.len()));
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars().filter(|c| !c.is_control()) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush(&mut digits, &mut out);
        out.push(c);
    }
    flush(&mut digits, &mut out);
    out.chars().take(EXCERPT_CHARS).collect()
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

    /// A stored answer of another caller, as this caller's result.
    #[cfg(feature = "redis")]
    pub(crate) fn reused(&self, prepared: &Prepared, answer: &str) -> Option<Verification> {
        let v = crate::fleet::reused(answer, self.endpoint, prepared.carrier)?;
        let span = &prepared.span;
        span.record("attempts", 0);
        span.record("order_id", v.order_id.as_str());
        span.in_scope(
            || tracing::info!(verdict = %v.verdict, "answer reused from the shared store"),
        );
        Some(v)
    }

    pub(crate) fn request(&self, prepared: &Prepared) -> Result<HttpRequest, Error> {
        let params = QueryParams {
            key: self.api_key.expose_secret(),
            idcard: &prepared.idcard,
            mobile: &prepared.mobile,
        };
        Ok(juhe_proto::build_request(
            &self.base_url,
            self.endpoint,
            self.method,
            &params,
        )?)
    }

    fn read(&self, outcome: Result<HttpResponse, TransportError>) -> Result<Answer, Error> {
        let response = outcome.map_err(Error::Transport)?;
        let answer = juhe_proto::parse_response(&response).map_err(|e| {
            if matches!(e, juhe_proto::ResponseError::Decode(_)) {
                let excerpt = redacted_excerpt(response.body(), self.api_key.expose_secret());
                tracing::debug!(status = response.status().as_u16(), %excerpt, "undecodable answer");
            }
            Error::from(e)
        })?;
        Ok(answer)
    }

    /// Reads one attempt's outcome: `Break` with the final result, or `Continue` with the wait
    /// before the next attempt. The span gets the attempts and the total latency once, at the end.
    pub(crate) fn after_attempt(
        &self,
        prepared: &Prepared,
        outcome: Result<HttpResponse, TransportError>,
        attempt: u32,
        started: Instant,
    ) -> ControlFlow<Result<Verification, Error>, Duration> {
        let span = &prepared.span;
        let result = span.in_scope(|| self.read(outcome));
        let finish = || {
            span.record("attempts", attempt);
            span.record("latency_ms", started.elapsed().as_millis() as u64);
        };
        match result {
            Ok(answer) => {
                let v = Verification {
                    verdict: answer.verdict,
                    order_id: answer.order_id,
                    mode: self.endpoint,
                    attempts: attempt,
                    carrier: prepared.carrier,
                    reused_from: None,
                };
                finish();
                span.record("order_id", v.order_id.as_str());
                span.in_scope(|| tracing::info!(verdict = %v.verdict, "check answered"));
                ControlFlow::Break(Ok(v))
            }
            Err(error) => {
                match self.retry.delay_for(&error, attempt) {
                    Some(delay) => {
                        span.in_scope(|| tracing::warn!(%error, attempt, delay_ms = delay.as_millis() as u64, "retrying"));
                        ControlFlow::Continue(delay)
                    }
                    None => {
                        finish();
                        span.in_scope(|| tracing::debug!(%error, class = error.class().as_str(), "check failed"));
                        ControlFlow::Break(Err(error))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn excerpts_mask_the_key_and_numbers() {
        let body =
            b"<html>key=SECRET&idcard=110105199003071239&mobile=13012345678 at 12:30\r\n</html>";
        let text = super::redacted_excerpt(body, "SECRET");
        assert_eq!(
            text,
            "<html>key=[key]&idcard=******************&mobile=*********** at 12:30</html>"
        );
        assert_eq!(super::redacted_excerpt(&[b'x'; 500], "").len(), 80);
    }
}
