//! `lsm-server`: work in progress on the `ch11` branch.

fn main() {
    eprintln!("lsm-server: not built yet (chapter 11 is in progress)");
    std::process::exit(2);
}
