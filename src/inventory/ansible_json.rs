//! The inventory as `ansible-inventory --list` prints it, for `ferry
//! inventory --list` and for comparing ferry with Ansible.
//!
//! Shape: one key per group reachable from `all` with its direct `hosts`
//! and its `children` (empty lists left out, and a group with neither left
//! out entirely — though its parent still names it); `all` lists only
//! children; `_meta.hostvars` holds each host's fully merged vars (hosts
//! without vars are left out) and `_meta.profile` is `inventory_legacy`.

use serde_json::{Map, Value, json};

use super::{ALL, Inventory};

pub(crate) fn list(inventory: &Inventory) -> Value {
    let mut out = Map::new();
    let mut seen = vec![false; inventory.groups.len()];
    group(inventory, ALL, &mut seen, &mut out);
    let mut hostvars = Map::new();
    for host in inventory.hosts() {
        let vars = inventory.host_vars(host);
        if !vars.is_empty() {
            hostvars.insert(host.to_string(), Value::Object(vars));
        }
    }
    out.insert(
        "_meta".into(),
        json!({"hostvars": hostvars, "profile": "inventory_legacy"}),
    );
    Value::Object(out)
}

fn group(inventory: &Inventory, g: usize, seen: &mut [bool], out: &mut Map<String, Value>) {
    let data = &inventory.groups[g];
    let mut entry = Map::new();
    if g != ALL && !data.hosts.is_empty() {
        let hosts = data.hosts.iter().map(|&h| inventory.hosts[h].name.clone());
        entry.insert("hosts".into(), hosts.collect());
    }
    if !data.children.is_empty() {
        let children = data
            .children
            .iter()
            .map(|&c| inventory.groups[c].name.clone());
        entry.insert("children".into(), children.collect());
    }
    for &c in &data.children {
        if !seen[c] {
            seen[c] = true;
            group(inventory, c, seen, out);
        }
    }
    if !entry.is_empty() {
        out.insert(data.name.clone(), Value::Object(entry));
    }
}
