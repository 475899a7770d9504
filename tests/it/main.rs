//! ferry's integration tests: one binary, one module per area.

mod apps;
mod certificates;
mod certs;
mod certs_certbot;
mod certs_nginx;
mod check_mode;
mod cli;
mod corpus;
mod deploy;
mod deploy_faults;
mod executor;
mod exit_codes;
mod init;
mod inventory_ansible;
mod limits;
mod nginx;
mod readme_path;
mod release_remote;
mod release_tree;
mod secrets;
mod ssh_config;
mod support;
mod systemd;
mod terminal;
mod transport;
