//! `ferry setup STAGE`: takes fresh servers to the point where `ferry
//! deploy STAGE` works, by running the playbook `server/setup` (ferry's
//! built-in one, or the project's `playbooks/server/setup.yml`, part by
//! part) as `setup_user` (default `root`), since the deploy user it logs in
//! as afterwards is one of the things setup makes.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{compile_playbook, execute, print_plan};
use crate::cli::SetupArgs;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::plan::Login;
use crate::playbook::{self, Library};
use crate::stage;

pub(super) fn setup(dir: &Path, mut args: SetupArgs) -> Result<(), Error> {
    let inventory_path = stage::inventory_path(dir, &args.stage)?;
    let inventory = Inventory::load(&inventory_path)?;
    let keys = controller_keys(&inventory, dir);
    // The web hosts' addresses: who may reach the database.
    let web: Vec<String> = if inventory.groups().any(|g| g == "web") {
        inventory
            .select("web", None)?
            .iter()
            .map(|host| inventory.address(host).address)
            .collect()
    } else {
        Vec::new()
    };
    args.compile.extra_vars.insert(
        0,
        json!({ "ferry_setup_keys": keys, "ferry_setup_web_addresses": web }).to_string(),
    );
    args.compile.login = Login::Setup;
    let library = Library::new(Some(dir.to_path_buf()));
    let source = library
        .find("server/setup")
        .ok_or_else(|| Error::Failed("ferry's built-in `server/setup` playbook is missing".into()))?
        .map_err(|e| Error::Failed(format!("cannot read playbooks/server/setup.yml: {e}")))?;
    let parsed = playbook::parse_source(&source, &library)?;
    let mut plan = compile_playbook(
        &parsed,
        dir,
        &inventory_path,
        &args.stage,
        &args.compile,
        None,
    )?;
    if args.plan {
        print_plan(&plan, args.exec.json);
        return Ok(());
    }
    execute(&mut plan, dir, &args.exec, args.check).map(drop)
}

/// The public keys the deploy user is given, unless the inventory lists
/// `deploy_authorized_keys`: those of the private keys the stage's hosts
/// log in with (`ansible_ssh_private_key_file` + `.pub`), else of the keys
/// ssh tries by default (`~/.ssh/id_ed25519.pub`, …) — so that the deploy
/// that follows logs in with the key that set the server up.
fn controller_keys(inventory: &Inventory, dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = inventory
        .hosts()
        .filter_map(|host| inventory.address(host).key_file)
        .map(|key| {
            let key = if key.is_relative() {
                dir.join(key)
            } else {
                key
            };
            let mut public = key.into_os_string();
            public.push(".pub");
            PathBuf::from(public)
        })
        .collect();
    if files.is_empty()
        && let Some(home) = std::env::var_os("HOME")
    {
        let ssh = Path::new(&home).join(".ssh");
        files = ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|name| ssh.join(format!("{name}.pub")))
            .collect();
    }
    let mut keys: Vec<String> = files
        .iter()
        .filter_map(|file| std::fs::read_to_string(file).ok())
        .flat_map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    keys.retain(|key| seen.insert(key.clone()));
    keys
}
