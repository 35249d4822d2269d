//! A faithful local emulator of Juhe's 手机身份证二要素核验 API (`telecom2Cucc`), for tests,
//! demos and offline development.
//!
//! It is a real HTTP server on loopback that speaks the vendor's protocol: the three paths,
//! GET and form POST, key checks, AES/RSA decryption, the same validation and error codes, a
//! fixture table, unique `JH…` order ids, an optional QPS limit and fault injection. Every
//! request is counted (with numbers masked) so tests can assert "sent exactly once".
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use juhe_sandbox::{Sandbox, demo};
//!
//! let sandbox = Sandbox::builder().spawn().await?; // demo key, keys and fixtures
//! let url = format!("{}/telecom2Cucc/query?key={}&idcard={}&mobile={}",
//!     sandbox.base_url(), demo::API_KEY, demo::MATCH.0, demo::MATCH.1);
//! # let _ = url;
//! assert_eq!(sandbox.stats().requests, 0);
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod builder;
pub mod demo;
mod error;
mod faults;
mod fixtures;
mod handler;
mod in_process;
mod order_id;
mod postgres_server;
mod rate_limit;
mod recorder;
mod redis_server;
mod server;

pub use builder::{
    BlockingSandbox, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MIN_BODY_RATE,
    DEFAULT_REQUEST_TIMEOUT, DefaultVerdict, KeyStatus, Sandbox, SandboxBuilder, SandboxHandle,
};
pub use error::SandboxError;
pub use faults::{Fault, FaultPlan};
pub use fixtures::{Fixture, Fixtures, Outcome};
pub use in_process::InProcessSandbox;
pub use postgres_server::PostgresServer;
pub use recorder::{PairCount, RequestRecord, Stats};
pub use redis_server::RedisServer;
