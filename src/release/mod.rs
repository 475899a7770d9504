//! Releases on the server: `{deploy_to}/releases/<UTC timestamp>-<short sha>`.

mod id;

pub use id::{ReleaseId, release_id};
