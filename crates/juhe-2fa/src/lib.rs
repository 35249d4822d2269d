//! Rust SDK for Juhe's 手机身份证二要素核验 API (`telecom2Cucc`): does this ID card number own
//! this China Unicom mobile number?
//!
//! Every check costs money and carries a person's identity data, so the clients here:
//! validate both numbers locally before anything is sent; encrypt the fields for the AES and
//! RSA endpoints with keys parsed once at [`ClientBuilder::build`]; retry only outcomes that
//! cannot have been billed; rate-limit on request; and never print the API key or an unmasked
//! number.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), juhe_2fa::Error> {
//! use juhe_2fa::{Client, Mode, Verdict};
//!
//! let client = Client::builder()
//!     .api_key(std::env::var("JUHE_KEY").unwrap_or_default())
//!     .mode(Mode::Rsa(std::fs::read_to_string("vendor_public_key.pem").unwrap_or_default()))
//!     .build()?;
//! let v = client.verify("110105199003071239", "13012345678").await?;
//! if v.verdict == Verdict::Match {
//!     // Keep v.order_id: it is the billing reference.
//! }
//! # Ok(()) }
//! ```
//!
//! `BlockingClient` (feature `blocking`) is the same on plain threads, over ureq.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(any(feature = "async", feature = "blocking")))]
compile_error!(
    "juhe-2fa needs feature `async` (the default, `Client`) or `blocking` (`BlockingClient`)"
);

mod api_key;
#[cfg(feature = "blocking")]
mod blocking;
mod builder;
#[cfg(feature = "async")]
mod client;
mod core;
mod error;
mod rate_limit;
mod retry;
mod verification;

pub use api_key::ApiKey;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub use blocking::BlockingClient;
pub use builder::{CarrierPolicy, ClientBuilder, DEFAULT_BASE_URL, Mode};
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use client::Client;
pub use error::Error;
pub use retry::RetryPolicy;
pub use verification::Verification;

pub use juhe_crypto::{AesConfig, AesMode, CryptoError, FieldEncryptor, IvPolicy, OutputEncoding};
pub use juhe_proto::{Carrier, Endpoint, ErrorCode, ErrorKind, IdCard, Method, Mobile, Verdict};
pub use juhe_transport::{
    BlockingTransport, HttpRequest, HttpResponse, Transport, TransportConfig, TransportError,
};

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
