//! The built-in playbooks and templates are compiled into the binary
//! (`include_dir!`), which cargo does not track: rebuild when they change.

fn main() {
    println!("cargo:rerun-if-changed=playbooks");
    println!("cargo:rerun-if-changed=templates");
}
