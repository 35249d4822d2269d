//! One module per command.

pub mod batch;
pub mod check;
pub mod demo;
pub mod doctor;
pub mod encrypt;
pub mod ledger;
pub mod sandbox;
pub mod serve;
pub mod verify;
