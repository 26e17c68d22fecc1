//! Records the versions of key dependencies (from Cargo.lock) for run manifests.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let wanted = ["polars", "rayon", "serde_yaml", "plotters", "statrs", "clap", "rand_chacha"];
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut found = Vec::new();
    let mut name: Option<String> = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            if wanted.contains(&n.as_str()) {
                found.push(format!("{n}={}", v.trim_matches('"')));
            }
        }
    }
    found.sort();
    println!("cargo:rustc-env=LMGAUGE_DEPENDENCIES={}", found.join(","));
}
