//! Releases: `{deploy_to}/releases/<UTC timestamp>-<short sha>` on each
//! host, and what goes into one — the git tree of the deployed commit,
//! shipped whole to a new host and as a delta against its current release's
//! manifest to a host that has one.
//!
//! - `id`: the id of a new release, chosen on the controller.
//! - `tree`, `manifest`: the commit's files, their manifest, the delta, the tar.
//! - `layout`: what is on a host (one probe), rollback target, cleanup.
//! - `lock`: the deploy lock, `.ferry/lock/`.
//! - `remote`: commands that make, mark, switch and remove releases.

mod id;
pub mod layout;
pub mod lock;
mod manifest;
mod procfile;
pub mod remote;
mod tree;

pub use id::{ReleaseId, release_id};
pub use manifest::{
    Delta, Entry, MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, Manifest, ManifestError,
};
pub use procfile::Procfile;
pub use tree::{Source, TreeError};
