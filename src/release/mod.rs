//! Releases: `{deploy_to}/releases/<UTC timestamp>-<short sha>` on each
//! host, and what goes into one — the git tree of the deployed commit,
//! shipped whole to a new host and as a delta against its current release's
//! manifest to a host that has one.
//!
//! - `id`: the id of a new release, chosen on the controller.
//! - `tree`, `manifest`: the commit's files, their manifest, the delta, the tar.
//! - `layout`: what is on a host (one probe), rollback target, cleanup.
//! - `lock`: the deploy lock, `.ferry/lock/`.
//! - `seed`: the unchanged committed files a new release links from the
//!   previous one, and nothing else of it.
//! - `check`: shared paths checked against the commit before connecting.
//! - `remote`: commands that make, mark, switch and remove releases.

mod check;
mod id;
pub mod layout;
pub mod lock;
mod manifest;
mod procfile;
pub mod remote;
mod seed;
mod tree;

pub use check::check_release_paths;
pub use id::{ReleaseId, release_id};
pub use manifest::{
    Delta, Entry, MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, Manifest, ManifestError,
};
pub use procfile::Procfile;
pub use seed::{SEED_UNUSABLE, Seed, stdin_then};
pub use tree::{Source, TreeError};
