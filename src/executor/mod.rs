//! Runs a [`crate::plan::Plan`] on real hosts.

mod event;

pub use event::{Event, Reporter, Status};
