//! The SDK as a user crate sees it. This crate depends on `juhe-2fa` alone (no `http`, no
//! layer crate), so its tests prove that everything ordinary code names is reachable from
//! `juhe_2fa::`; and it compiles every Rust example of the guides (`README.md`, the SDK crate's
//! README, `docs/`) as a
//! doctest, so the guides cannot drift from the API.

#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

#[cfg(doctest)]
#[doc = include_str!("../../../crates/juhe-2fa/README.md")]
mod crate_readme {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/usage.md")]
mod usage {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/fleet.md")]
mod fleet {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/sandbox.md")]
mod sandbox {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/validation.md")]
mod validation {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/crypto.md")]
mod crypto {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/cli.md")]
mod cli {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/architecture.md")]
mod architecture {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/security.md")]
mod security {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/performance.md")]
mod performance {}
