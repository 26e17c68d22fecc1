//! Records the versions of key dependencies (from Cargo.lock) for run manifests, and, in builds
//! with the `torch` feature, puts libtorch's folder in the binaries' rpath so that `cargo run`
//! and `cargo test` work with nothing exported (torch-sys links libtorch but sets no rpath),
//! links the `lmgauge` launcher so that it does not load libtorch, and compiles the one C++ shim
//! lmgauge needs beside tch (causal attention without a mask tensor).

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let wanted = [
        "polars",
        "rayon",
        "serde_yaml",
        "plotters",
        "statrs",
        "clap",
        "rand_chacha",
        "tch",
        "rust-bert",
        "tokenizers",
    ];
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut found = Vec::new();
    let mut name: Option<String> = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take())
            && wanted.contains(&n.as_str())
        {
            found.push(format!("{n}={}", v.trim_matches('"')));
        }
    }
    found.sort();
    println!("cargo:rustc-env=LMGAUGE_DEPENDENCIES={}", found.join(","));
    println!("cargo:rustc-env=LMGAUGE_LONG_VERSION={}", long_version());
    // torch-sys publishes its library folder to direct dependents as DEP_TCH_LIBTORCH_LIB.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        // The launcher refers to no libtorch code, but linking against libtorch's libraries
        // still keeps the C++ inline functions of tch's wrapper that those libraries also define
        // (the linker exports them to interpose, and exported symbols survive --gc-sections),
        // and with them libtorch. Exporting nothing from archives lets them go, and --as-needed
        // then drops libtorch from the launcher: it starts in milliseconds (src/cli/launch.rs).
        println!("cargo:rustc-link-arg-bin=lmgauge=-Wl,--exclude-libs,ALL");
        println!("cargo:rustc-env=LMGAUGE_LIBTORCH_LIB={lib}");
        causal_attention_shim(std::path::Path::new(&lib));
    }
}

/// `--version`'s text: the crate version, the git revision built (when built from a clone) and
/// the libtorch the build links (its version and flavour, from the files scripts/setup-libtorch.sh
/// writes beside it), or that the build has none.
fn long_version() -> String {
    for head in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        println!("cargo:rerun-if-changed={head}");
    }
    let revision = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|r| !r.is_empty())
        .map_or_else(|| "git revision unknown".to_owned(), |r| format!("git {r}"));
    let libtorch = match std::env::var("DEP_TCH_LIBTORCH_LIB") {
        Ok(lib) => {
            let root = std::path::Path::new(&lib).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
            let read = |f: &str| std::fs::read_to_string(root.join(f)).ok().map(|s| s.trim().to_owned());
            println!("cargo:rerun-if-changed={}", root.join("FLAVOUR").display());
            format!(
                "libtorch {} {}",
                read("VERSION").or_else(|| read("build-version")).unwrap_or_else(|| "(version unknown)".into()),
                read("FLAVOUR").unwrap_or_else(|| "(flavour unknown)".into())
            )
        }
        Err(_) => "no libtorch (built without the torch feature)".into(),
    };
    format!("{} ({revision}, {libtorch})", std::env::var("CARGO_PKG_VERSION").unwrap_or_default())
}

/// Compiles the causal-attention shim (see src/models/neural/enabled/attention.rs) with the
/// flags torch-sys uses for its own C++ wrapper.
fn causal_attention_shim(lib: &std::path::Path) {
    let src = "src/models/neural/enabled/cpp/causal_attention.cpp";
    println!("cargo:rerun-if-changed={src}");
    let root = lib.parent().expect("libtorch/lib has a parent");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        // A few calls into libtorch: -O1 compiles in half the time of -O3 and runs the same.
        .opt_level(1)
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .file(src)
        .compile("lmgauge_attention");
}
