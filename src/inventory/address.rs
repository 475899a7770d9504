//! The connection view of a host: where to connect, on which port, as whom,
//! with which key — read from the standard Ansible connection variables.

use std::path::PathBuf;

use serde_json::{Map, Value};

/// Where and as whom to reach one inventory host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddress {
    /// The inventory name.
    pub name: String,
    /// `ansible_host` (or `ansible_ssh_host`, or `host`), else the name.
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub key_file: Option<PathBuf>,
    /// `ansible_ssh_common_args`, then `ansible_ssh_extra_args`, as
    /// `(variable, text)`: ssh command-line arguments, unrendered.
    pub ssh_args: Vec<(String, String)>,
}

impl HostAddress {
    /// Reads the connection vars of a host's merged vars. For each setting
    /// the `ansible_` name wins over the old `ansible_ssh_` one, which wins
    /// over ferry's short alias.
    pub(crate) fn from_vars(name: &str, vars: &Map<String, Value>) -> HostAddress {
        let get = |names: &[&str]| names.iter().find_map(|n| scalar(vars.get(*n)?));
        HostAddress {
            name: name.to_string(),
            address: get(&["ansible_host", "ansible_ssh_host", "host"])
                .unwrap_or_else(|| name.to_string()),
            port: get(&["ansible_port", "ansible_ssh_port", "port"])
                .and_then(|p| p.trim().parse().ok()),
            user: get(&["ansible_user", "ansible_ssh_user", "user"]),
            key_file: get(&["ansible_ssh_private_key_file", "key"]).map(PathBuf::from),
            ssh_args: ["ansible_ssh_common_args", "ansible_ssh_extra_args"]
                .into_iter()
                .filter_map(|n| Some((n.to_string(), scalar(vars.get(n)?)?)))
                .collect(),
        }
    }
}

/// A var usable as a connection setting: a string or a number.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ansible_names_win_over_aliases() {
        let vars = json!({"host": "a", "ansible_host": "b", "port": 1, "ansible_ssh_port": "2202",
                          "user": "u", "key": "k.pem"});
        let address = HostAddress::from_vars("web1", vars.as_object().unwrap());
        assert_eq!(
            address,
            HostAddress {
                name: "web1".into(),
                address: "b".into(),
                port: Some(2202),
                user: Some("u".into()),
                key_file: Some(PathBuf::from("k.pem")),
                ssh_args: Vec::new(),
            }
        );
    }

    #[test]
    fn the_name_is_the_default_address() {
        let address = HostAddress::from_vars("web1", &Map::new());
        assert_eq!((address.address.as_str(), address.port), ("web1", None));
    }
}
