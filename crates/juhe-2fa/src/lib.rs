//! Rust SDK for Juhe's 手机身份证二要素核验 API (`telecom2Cucc`): does this ID card number own
//! this China Unicom mobile number?
//!
//! Every check costs money and carries a person's identity data, so the clients here:
//! validate both numbers locally before anything is sent; encrypt the fields for the AES and
//! RSA endpoints with keys parsed once at `ClientBuilder::build`; retry only outcomes that
//! cannot have been billed; rate-limit on request; and never print the API key or an unmasked
//! number.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), juhe_2fa::Error> {
//! use juhe_2fa::{Client, Mode, Verdict};
//!
//! let client = Client::builder()
//!     .api_key(std::env::var("JUHE_KEY").unwrap_or_default())
//!     .mode(Mode::aes_openid(&std::env::var("JUHE_OPENID").unwrap_or_default())?)
//!     .build()?;
//! let v = client.verify("110105199003071239", "13012345678").await?;
//! if v.verdict == Verdict::Match {
//!     // Keep v.order_id: it is the billing reference.
//! }
//! # Ok(()) }
//! ```
//!
//! [`BlockingClient`] is the same on plain threads. Backends are features: `reqwest` (default;
//! `ClientBuilder::build`) and `ureq` (`ClientBuilder::build_blocking`); `async` and
//! `blocking` are their old names. Both clients work with no backend at all over your own
//! transport ([`ClientBuilder::build_with_transport`]), on any async runtime ([`Timer`]).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// `with_<field>(value)` setters for the public fields of an options struct, each documented
/// as "Sets [`Type::field`]": one shape, written once.
macro_rules! with_setters {
    ($ty:ident { $($setter:ident => $field:ident: $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($ty), "::", stringify!($field), "`].")]
                pub fn $setter(mut self, value: $t) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

mod api_key;
mod attempt;
mod blocking;
pub mod budget;
mod builder;
mod client;
mod core;
mod engine;
mod error;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod fleet;
pub mod ledger;
mod messages;
mod rate_limit;
mod retry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod timer;
mod verification;

pub use api_key::ApiKey;
pub use attempt::Attempt;
pub use blocking::BlockingClient;
pub use builder::{CarrierPolicy, ClientBuilder, DEFAULT_BASE_URL, Mode};
pub use client::Client;
pub use error::{Error, ErrorClass};
#[cfg(feature = "redis")]
pub use fleet::FleetOptions;
pub use ledger::Ledger;
pub use retry::RetryPolicy;
pub use timer::{DefaultTimer, Sleep, Timer};
pub use verification::Verification;

pub use juhe_crypto::{
    AesConfig, AesMode, CryptoError, FieldEncryptor, IvPolicy, OutputEncoding, RsaPublicKey,
};
pub use juhe_proto::{
    Carrier, DecodeError, DecodeProblem, Endpoint, ErrorCode, ErrorKind, Field, IdCard, Method,
    Mobile, PairIdentity, ValidationError, Verdict,
};
pub use juhe_transport::{
    BlockingTransport, BoxError, HttpRequest, HttpResponse, MaybeSentReason, NotSentReason, Proxy,
    ProxyScheme, Transport, TransportConfig, TransportError,
};

/// The `http` crate, so a transport or a test can build requests and responses without a
/// dependency of its own.
pub use http;

/// The layers below the facade, for users who need more than the common case.
pub mod layers {
    pub use juhe_crypto as crypto;
    pub use juhe_proto as proto;
    pub use juhe_transport as transport;
}

/// mockall mocks of the transport traits (feature `mock`).
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub use juhe_transport::mock;
