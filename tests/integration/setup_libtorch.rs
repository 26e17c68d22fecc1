//! The libtorch make targets (scripts/setup-libtorch.sh): `make setup`, which build, run and
//! test depend on, keeps whichever flavour is installed, so `make setup-cuda` followed by `make
//! run` keeps the CUDA build; only `setup-cpu` / `setup-cuda` replace a flavour, and a failed
//! replacement leaves the installed one in place. CI has no GPU, so the script runs against a
//! fake ./libtorch with downloads made to fail (`PYTHON=false`).

use std::path::Path;
use std::process::Command;

use crate::common::repo;

/// A copy of the script in a scratch repository, with ./libtorch of `flavour` if given.
fn scratch(flavour: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
    std::fs::copy(repo().join("scripts/setup-libtorch.sh"), dir.path().join("scripts/setup-libtorch.sh")).unwrap();
    if let Some(f) = flavour {
        std::fs::create_dir_all(dir.path().join("libtorch/lib")).unwrap();
        std::fs::write(dir.path().join("libtorch/lib/libtorch.so"), b"").unwrap();
        std::fs::write(dir.path().join("libtorch/FLAVOUR"), format!("{f}\n")).unwrap();
    }
    dir
}

/// (exit code, stderr) of the script with `args`.
fn setup(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new("bash")
        .arg(dir.join("scripts/setup-libtorch.sh"))
        .args(args)
        .env_remove("LIBTORCH")
        .env("PYTHON", "false")
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn flavour(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("libtorch/FLAVOUR")).unwrap().trim().to_owned()
}

#[test]
fn make_setup_keeps_an_installed_cuda_libtorch() {
    let dir = scratch(Some("cuda"));
    for args in [&[][..], &["--cuda"][..]] {
        let (code, err) = setup(dir.path(), args);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
        assert_eq!(flavour(dir.path()), "cuda");
    }
    // An explicit switch back fetches the CPU build; when that fails, CUDA stays installed.
    let (code, err) = setup(dir.path(), &["--cpu"]);
    assert!(code != 0 && err.contains("for a cpu libtorch"), "{code}: {err}");
    assert_eq!(flavour(dir.path()), "cuda");
}

#[test]
fn setup_installs_cpu_when_nothing_is_installed_and_cuda_only_when_asked() {
    let dir = scratch(None);
    let (code, err) = setup(dir.path(), &[]);
    assert!(code != 0 && err.contains("for a cpu libtorch"), "{code}: {err}");
    let dir = scratch(Some("cpu"));
    assert_eq!(setup(dir.path(), &[]), (0, String::new()));
    let (code, err) = setup(dir.path(), &["--cuda"]);
    assert!(code != 0 && err.contains("for a cuda libtorch"), "{code}: {err}");
    assert_eq!(flavour(dir.path()), "cpu");
    assert_eq!(setup(dir.path(), &["--gpu"]).0, 2);
}

#[test]
fn make_targets_call_the_script_with_the_right_switch() {
    let dry = |target: &str| {
        let o = Command::new("make").args(["-n", "-C"]).arg(repo()).arg(target).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let setup_line =
        |out: &str| out.lines().find(|l| l.contains("setup-libtorch.sh")).map(str::trim).map(str::to_owned);
    assert_eq!(setup_line(&dry("setup")).as_deref(), Some("scripts/setup-libtorch.sh"));
    assert_eq!(setup_line(&dry("build")).as_deref(), Some("scripts/setup-libtorch.sh"));
    assert_eq!(setup_line(&dry("setup-cuda")).as_deref(), Some("scripts/setup-libtorch.sh --cuda"));
    assert_eq!(setup_line(&dry("setup-cpu")).as_deref(), Some("scripts/setup-libtorch.sh --cpu"));
    // `make run DEVICE=cuda` keeps the installed libtorch (plain setup) and moves the models.
    let run = |extra: &[&str]| {
        let o = Command::new("make").args(["-n", "-C"]).arg(repo()).arg("run").args(extra).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let plain = run(&[]);
    assert_eq!(setup_line(&plain).as_deref(), Some("scripts/setup-libtorch.sh"));
    assert!(plain.lines().any(|l| l.contains("run-suite suites/quick.yaml") && !l.contains("--device")), "{plain}");
    let cuda = run(&["DEVICE=cuda"]);
    assert_eq!(setup_line(&cuda).as_deref(), Some("scripts/setup-libtorch.sh"));
    assert!(cuda.lines().any(|l| l.contains("run-suite suites/quick.yaml") && l.ends_with("--device cuda")), "{cuda}");
    let tests = dry("test-cuda");
    assert!(tests.contains("LMGAUGE_REQUIRE_CUDA=1"), "{tests}");
}
