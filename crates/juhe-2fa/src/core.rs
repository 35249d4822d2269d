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

    /// One attempt's outcome as the vendor's answer, or the failure.
    pub(crate) fn read(
        &self,
        outcome: Result<HttpResponse, TransportError>,
    ) -> Result<Answer, Error> {
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
