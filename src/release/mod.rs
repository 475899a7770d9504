//! Releases on the server: `{deploy_to}/releases/<UTC timestamp>-<short sha>`,
//! and what goes into one: the git tree of the deployed commit, shipped whole
//! to a new host and as a delta against its current release's manifest to a
//! host that has one.

mod id;
mod manifest;
mod tree;

pub use id::{ReleaseId, release_id};
pub use manifest::{
    Delta, Entry, MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, Manifest, ManifestError,
};
pub use tree::{Source, TreeError};
