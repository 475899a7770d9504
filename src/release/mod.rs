//! Releases on the server: `{deploy_to}/releases/<UTC timestamp>-<short sha>`.
//!
//! - `id`: the id of a new release, chosen on the controller.
//! - `layout`: what is on a host (one probe), rollback target, cleanup.
//! - `lock`: the deploy lock, `.ferry/lock/`.
//! - `remote`: commands that make, mark, switch and remove releases.

mod id;
pub mod layout;
pub mod lock;
pub mod remote;

pub use id::{ReleaseId, release_id};
