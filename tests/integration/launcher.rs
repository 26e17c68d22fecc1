//! The two binaries: `lmgauge` starts without libtorch and hands commands that load a neural
//! model to `lmgauge-torch` (src/cli/launch.rs).

/// The shared libraries the dynamic loader maps for `binary`, as `ldd` lists them (glibc's
/// loader prints them and exits when LD_TRACE_LOADED_OBJECTS is set; nothing runs).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn loaded_libraries(binary: &str) -> String {
    let o = std::process::Command::new(binary).env("LD_TRACE_LOADED_OBJECTS", "1").output().expect("loader runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_launcher_does_not_load_libtorch() {
    let launcher = loaded_libraries(env!("CARGO_BIN_EXE_lmgauge"));
    assert!(launcher.contains("libc.so"), "the listing is the loader's: {launcher}");
    assert!(!launcher.contains("libtorch") && !launcher.contains("libc10"), "{launcher}");
    #[cfg(feature = "torch")]
    {
        let torch = loaded_libraries(env!("CARGO_BIN_EXE_lmgauge-torch"));
        assert!(torch.contains("libtorch_cpu") && torch.contains("libc10"), "{torch}");
    }
}

/// A causal LM's perplexity from the launcher is the one lmgauge-torch computes itself: the
/// command was handed over whole, with its arguments and working folder.
#[cfg(feature = "torch")]
#[test]
fn a_neural_command_is_handed_over_whole() {
    use crate::common::{fixture, lmgauge, stderr, stdout, workspace};
    let gpt2 = fixture("neural/gpt2-safetensors");
    let ws = workspace(&[("t.txt", "The quick brown fox.\nJumps over the lazy dog.\n")]);
    let args = ["perplexity", "--model", gpt2.to_str().unwrap(), "-i", "t.txt", "--device", "cpu", "--json"];
    let launched = lmgauge(ws.path(), &args);
    assert!(launched.status.success(), "{}", stderr(&launched));
    let direct = std::process::Command::new(env!("CARGO_BIN_EXE_lmgauge-torch"))
        .current_dir(ws.path())
        .args(args)
        .output()
        .expect("lmgauge-torch runs");
    assert!(direct.status.success());
    assert_eq!(stdout(&launched), stdout(&direct));
    assert!(stdout(&launched).contains("\"token_perplexity\""));
}

/// `--version` names the crate version, the git revision built and the libtorch the build links
/// (version and flavour), the same from both binaries.
#[test]
fn version_names_the_revision_and_the_libtorch_flavour() {
    use crate::common::{lmgauge, repo, stdout};
    let o = lmgauge(&repo(), &["--version"]);
    assert!(o.status.success());
    let v = stdout(&o);
    assert!(v.starts_with(&format!("lmgauge {} (", env!("CARGO_PKG_VERSION"))), "{v}");
    assert!(v.contains("git ") || v.contains("git revision unknown"), "{v}");
    if cfg!(feature = "torch") {
        let flavour = std::fs::read_to_string(repo().join("libtorch/FLAVOUR")).map(|f| f.trim().to_owned());
        if let Ok(flavour) = flavour {
            assert!(v.contains(&format!("libtorch 2.4.0 {flavour}")), "{v}");
        }
        let torch = std::process::Command::new(env!("CARGO_BIN_EXE_lmgauge-torch")).arg("--version").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&torch.stdout), v);
    } else {
        assert!(v.contains("no libtorch"), "{v}");
    }
}
