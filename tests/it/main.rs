//! ferry's integration tests: one binary, one module per area.

mod apps;
mod certs;
mod certs_certbot;
mod certs_nginx;
mod cli;
mod corpus;
mod deploy;
mod executor;
mod exit_codes;
mod init;
mod inventory_ansible;
mod limits;
mod nginx;
mod release_remote;
mod support;
mod systemd;
mod transport;
