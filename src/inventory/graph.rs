//! Building and walking the graph of hosts and groups: what the format
//! readers call while reading, Ansible's reconciliation once they are done,
//! and the walks the queries need (ancestors, depth, a group's hosts).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::{ALL, Group, Host, Inventory, UNGROUPED};

impl Inventory {
    pub(super) fn new() -> Inventory {
        let mut inventory = Inventory {
            hosts: Vec::new(),
            host_index: HashMap::new(),
            groups: Vec::new(),
            group_index: HashMap::new(),
        };
        inventory.add_group("all");
        inventory.add_group("ungrouped");
        inventory.groups[ALL].children.push(UNGROUPED);
        inventory.groups[UNGROUPED].parents.push(ALL);
        inventory
    }

    pub(super) fn group(&self, name: &str) -> Option<usize> {
        self.group_index.get(name).copied()
    }

    /// Adds a group if it is new; returns its index either way.
    pub(super) fn add_group(&mut self, name: &str) -> usize {
        if let Some(&g) = self.group_index.get(name) {
            return g;
        }
        self.groups.push(Group {
            name: name.to_string(),
            vars: Map::new(),
            file_vars: Map::new(),
            hosts: Vec::new(),
            children: Vec::new(),
            parents: Vec::new(),
            priority: 1,
            depth: 0,
        });
        let g = self.groups.len() - 1;
        self.group_index.insert(name.to_string(), g);
        g
    }

    /// Adds a host if it is new, and to `group`. A `port` only counts when
    /// the host is new, as in Ansible (it becomes `ansible_port`).
    pub(super) fn add_host(&mut self, name: &str, group: usize, port: Option<u16>) -> usize {
        let h = match self.host_index.get(name) {
            Some(&h) => h,
            None => {
                let mut vars = Map::new();
                if let Some(port) = port {
                    vars.insert("ansible_port".into(), Value::from(port));
                }
                self.hosts.push(Host {
                    name: name.to_string(),
                    vars,
                    file_vars: Map::new(),
                    groups: Vec::new(),
                });
                let h = self.hosts.len() - 1;
                self.host_index.insert(name.to_string(), h);
                h
            }
        };
        // A host is in few groups, a group may hold thousands of hosts:
        // ask the host (the two lists always agree).
        if !self.hosts[h].groups.contains(&group) {
            self.groups[group].hosts.push(h);
            self.hosts[h].groups.push(group);
        }
        h
    }

    pub(super) fn set_host_var(&mut self, host: usize, key: String, value: Value) {
        self.hosts[host].vars.insert(key, value);
    }

    /// Sets a group var; `ansible_group_priority` sets the priority instead,
    /// as Ansible does. `Err` carries the message for the caller to locate.
    pub(super) fn set_group_var(
        &mut self,
        group: usize,
        key: String,
        value: Value,
    ) -> Result<(), String> {
        if key == "ansible_group_priority" {
            let priority = match &value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                Value::Bool(b) => Some(i64::from(*b)),
                _ => None,
            };
            self.groups[group].priority = priority.ok_or_else(|| {
                format!("`ansible_group_priority` must be an integer, found `{value}`")
            })?;
            return Ok(());
        }
        self.groups[group].vars.insert(key, value);
        Ok(())
    }

    /// Makes `child` a child of `parent`, refusing loops as Ansible does.
    pub(super) fn add_child(&mut self, parent: usize, child: usize) -> Result<(), String> {
        if parent == child {
            return Err(format!(
                "group `{}` cannot be a child of itself",
                self.groups[parent].name
            ));
        }
        if self.groups[parent].children.contains(&child) {
            return Ok(());
        }
        if self.ancestors(parent).contains(&child) {
            return Err(format!(
                "making `{}` a child of `{}` creates a loop",
                self.groups[child].name, self.groups[parent].name
            ));
        }
        self.groups[parent].children.push(child);
        self.groups[child].parents.push(parent);
        Ok(())
    }

    /// Ansible's `reconcile_inventory`: root groups go under `all`, and
    /// `ungrouped` holds exactly the hosts that are in no other group.
    pub(super) fn reconcile(&mut self) {
        for g in 0..self.groups.len() {
            if g != ALL && self.groups[g].parents.is_empty() {
                self.groups[ALL].children.push(g);
                self.groups[g].parents.push(ALL);
            }
        }
        let mut leave_ungrouped = HashSet::new();
        for h in 0..self.hosts.len() {
            let groups = self.groups_of(h);
            let others = groups.iter().any(|&g| g != ALL && g != UNGROUPED);
            if groups.contains(&UNGROUPED) {
                if others {
                    leave_ungrouped.insert(h);
                    self.hosts[h].groups.retain(|&g| g != UNGROUPED);
                }
            } else if !others {
                self.groups[UNGROUPED].hosts.push(h);
                self.hosts[h].groups.push(UNGROUPED);
            }
        }
        // One pass, not one per host: `ungrouped` may hold thousands.
        self.groups[UNGROUPED]
            .hosts
            .retain(|h| !leave_ungrouped.contains(h));
        for g in 0..self.groups.len() {
            let depth = self.depth_of(g);
            self.groups[g].depth = depth;
        }
    }

    /// The longest path from `all` down to `g` (the group graph has no loop).
    pub(super) fn depth_of(&self, g: usize) -> usize {
        self.groups[g]
            .parents
            .iter()
            .map(|&p| self.depth_of(p) + 1)
            .max()
            .unwrap_or(0)
    }

    /// All groups above `g`.
    pub(super) fn ancestors(&self, g: usize) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut todo = self.groups[g].parents.clone();
        while let Some(p) = todo.pop() {
            if !seen.contains(&p) {
                seen.push(p);
                todo.extend(self.groups[p].parents.iter().copied());
            }
        }
        seen
    }

    /// The groups a host belongs to, directly or through a child group.
    pub(super) fn groups_of(&self, h: usize) -> Vec<usize> {
        let mut groups = Vec::new();
        for &g in &self.hosts[h].groups {
            if !groups.contains(&g) {
                groups.push(g);
            }
            for a in self.ancestors(g) {
                if !groups.contains(&a) {
                    groups.push(a);
                }
            }
        }
        groups
    }

    /// A host's groups but `all`, in Ansible's merge order: by depth, then
    /// priority, then name.
    pub(super) fn sorted_groups_of(&self, h: usize) -> Vec<usize> {
        let mut groups: Vec<usize> = self
            .groups_of(h)
            .into_iter()
            .filter(|&g| g != ALL)
            .collect();
        groups.sort_by(|&a, &b| {
            let (a, b) = (&self.groups[a], &self.groups[b]);
            (a.depth, a.priority, &a.name).cmp(&(b.depth, b.priority, &b.name))
        });
        groups
    }

    /// The hosts of a group and of its descendants, in Ansible's order: the
    /// group's own hosts, then its children's, level by level.
    pub(super) fn hosts_of_group(&self, g: usize) -> Vec<usize> {
        let mut order = vec![g];
        let mut level = self.groups[g].children.clone();
        let mut seen = vec![g];
        while !level.is_empty() {
            let mut next = Vec::new();
            for &c in &level {
                if !seen.contains(&c) {
                    seen.push(c);
                    order.push(c);
                    next.extend(self.groups[c].children.iter().copied());
                }
            }
            level = next;
        }
        let mut hosts = Vec::new();
        let mut taken = vec![false; self.hosts.len()];
        for group in order {
            for &h in &self.groups[group].hosts {
                if !std::mem::replace(&mut taken[h], true) {
                    hosts.push(h);
                }
            }
        }
        hosts
    }
}
