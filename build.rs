// Embedded migrations are read at compile time: rebuild when any of them changes, or a new
// migration would be silently missing from the binary. Same for the embedded policy text.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=assets");
}
