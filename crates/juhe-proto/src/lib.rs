//! Types, local validation, error codes and sans-IO request/response handling for Juhe's
//! 手机身份证二要素核验 API (`telecom2Cucc`: does this ID card number own this China Unicom
//! mobile number?).
//!
//! This crate never touches a socket. With the default feature `wire` it turns validated
//! inputs and already-encoded field values into an `http::Request` (`build_request`) and an
//! `http::Response` into an `Answer` or a typed `ResponseError` (`parse_response`); without it,
//! it is validation, carriers and error codes only. Errors are split by concern:
//! [`ValidationError`] (local input checks), `ResponseError` (what came back), `RequestError`
//! (building the request). Transports and encryption live in sibling crates.
//!
//! ```
//! use juhe_proto::{Carrier, IdCard, Mobile};
//!
//! let id = IdCard::parse(" 11010519491231002x ")?;
//! assert_eq!(id.masked(), "110105********002X");
//! let mobile = Mobile::parse("+86 130-0000-0000")?;
//! assert_eq!(mobile.carrier(), Carrier::Unicom);
//! # Ok::<(), juhe_proto::ValidationError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod carrier;
#[cfg(feature = "wire")]
mod endpoint;
mod error;
mod error_code;
mod idcard;
mod mobile;
mod normalize;
mod pair;
mod redact;
#[cfg(feature = "wire")]
mod response;

pub use carrier::Carrier;
#[cfg(feature = "wire")]
#[cfg_attr(docsrs, doc(cfg(feature = "wire")))]
pub use endpoint::{Endpoint, Method, QueryParams, build_request};
pub use error::{BirthDateProblem, DecodeProblem, Field, ValidationError};
#[cfg(feature = "wire")]
#[cfg_attr(docsrs, doc(cfg(feature = "wire")))]
pub use error::{DecodeError, RequestError, ResponseError};
pub use error_code::{CodeFormat, ErrorCode, ErrorKind};
pub use idcard::{Gender, IdCard};
pub use mobile::Mobile;
pub use pair::PairIdentity;
pub use redact::redact;
#[cfg(feature = "wire")]
#[cfg_attr(docsrs, doc(cfg(feature = "wire")))]
pub use response::{Answer, Verdict, parse_body, parse_response, parse_response_redacting};

/// The `http` crate, whose types [`build_request`] and [`parse_response`] use: build and read
/// them without a dependency of your own.
#[cfg(feature = "wire")]
#[cfg_attr(docsrs, doc(cfg(feature = "wire")))]
pub use http;

/// Re-exported so users can name [`IdCard::birth_date`]'s type without adding `time` themselves.
pub use time;
