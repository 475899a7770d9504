//! The `ferry` binary: parse arguments, run, print an error once, exit.

use clap::Parser;

fn main() {
    let cli = ferry::cli::Cli::parse();
    if let Err(err) = ferry::run::run(cli) {
        eprintln!("error: {err}");
        std::process::exit(err.exit_code());
    }
}
