//! The two binaries and how a command reaches the one that can run it.
//!
//! libtorch is half a gigabyte of shared libraries whose loading and static initialisers take
//! about half a second — longer than most commands (`bleu`, `chrf`, `gate`, `report`, `ngram`)
//! take in all. So the crate builds two binaries from the same CLI: `lmgauge`, which refers to no
//! libtorch code and so is linked without it (the linker drops a library nothing uses), and
//! `lmgauge-torch`, the same CLI linked to libtorch. `lmgauge` looks at the parsed command
//! first; when it will load a neural model (a suite that names one, `perplexity` or `generate`
//! with a causal or masked model) it replaces itself with `lmgauge-torch` and the same
//! arguments, so the command runs once, whole, in one process, as it would have. Nothing is
//! computed before the hand-over, so nothing is lost by it.
//!
//! A command that loads a neural model and is not recognised here fails with an internal error
//! naming the model (`NeuralError::NotLinked`); it never runs without it.

use std::path::PathBuf;

use super::{Cli, Command, perplexity};
use crate::error::Error;

/// The binary linked to libtorch, installed beside `lmgauge` (both are the crate's binaries).
pub const TORCH_BINARY: &str = "lmgauge-torch";

/// What both binaries do with their arguments: parse, let `prepare` act on the parsed command
/// (the launcher hands it over here), run, exit 0 on success, 1 when a gate failed, 2 on an error.
pub fn main(prepare: fn(&Cli) -> Result<(), Error>) -> ! {
    // Rust ignores SIGPIPE, so `lmgauge … | head` would panic on the closed pipe; end quietly
    // instead, as other command-line tools do.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    use clap::Parser;
    let cli = Cli::parse();
    super::logging::init(cli.quiet, cli.verbose);
    let code = match prepare(&cli).and_then(|()| super::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            let err = anyhow::Error::from(err);
            // Errors quote data (a suite's keys, a dataset's fields, a model file's strings):
            // their control characters must not reach the terminal.
            eprintln!("error: {}", crate::store::format::terminal_safe(&format!("{err:#}")));
            2
        }
    };
    std::process::exit(code);
}

/// The launcher's `prepare`: a command that needs libtorch continues in `lmgauge-torch`; any
/// other runs here. Returns only when the command stays here or the hand-over failed.
pub fn hand_over_if_neural(cli: &Cli) -> Result<(), Error> {
    if !crate::models::neural::ENABLED || !needs_libtorch(cli) {
        return Ok(());
    }
    let torch = torch_binary()?;
    let mut command = std::process::Command::new(&torch);
    command.args(std::env::args_os().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = command.exec();
        Err(Error::Usage(format!("could not start {}: {err}", torch.display())))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(|e| Error::io(&torch, e))?;
        std::process::exit(status.code().unwrap_or(2));
    }
}

/// Whether running the command will load a neural model. Inputs that cannot be read say "no":
/// the command then reports them itself, here, as it would anyway.
pub fn needs_libtorch(cli: &Cli) -> bool {
    use crate::models::neural::runs_quantized;
    use crate::suite::ModelKind;
    // A GGUF file computed quantized runs here.
    let neural_path = |kind: Option<perplexity::Kind>, model: &std::path::Path, runtime: &perplexity::RuntimeArgs| {
        let kind = kind.or_else(|| perplexity::infer_kind(model).ok());
        matches!(kind, Some(perplexity::Kind::Causal | perplexity::Kind::Masked))
            && !runs_quantized(model, &runtime.options())
    };
    match &cli.command {
        Command::RunSuite(args) => crate::tasks::load_suite(&args.suite).is_ok_and(|suite| {
            suite.models.iter().any(|m| match &m.kind {
                ModelKind::Neural(source) => !runs_quantized(&source.path, &source.options),
                _ => false,
            })
        }),
        // What libtorch sees is the question `env` answers.
        Command::Env(_) => true,
        Command::Perplexity(args) => neural_path(args.kind, &args.model.model, &args.runtime),
        Command::Generate(args) => neural_path(args.kind, &args.model.model, &args.runtime),
        _ => false,
    }
}

/// `lmgauge-torch` beside the running executable.
fn torch_binary() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::Usage(format!("cannot find the running executable: {e}")))?;
    let torch = exe.with_file_name(format!("{TORCH_BINARY}{}", std::env::consts::EXE_SUFFIX));
    if torch.is_file() {
        return Ok(torch);
    }
    Err(Error::Usage(format!(
        "this command loads a neural model, which runs in {TORCH_BINARY} (lmgauge linked to libtorch), and {} does not exist; build both binaries with `cargo build --release` (default features) or `make build`",
        torch.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn needs(args: &[&str]) -> bool {
        needs_libtorch(&Cli::try_parse_from([&["lmgauge"], args].concat()).expect("arguments parse"))
    }

    #[test]
    fn only_commands_that_load_a_neural_model_need_libtorch() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let gpt2 = fixtures.join("neural/gpt2-safetensors");
        let arpa = fixtures.join("kenlm/test.arpa");
        let (gpt2, arpa) = (gpt2.to_str().unwrap(), arpa.to_str().unwrap());
        assert!(needs(&["perplexity", "--model", gpt2, "-i", "t.txt"]), "a causal folder");
        assert!(needs(&["generate", "--model", "any", "--kind", "causal", "--prompt", "a"]), "a stated kind");
        assert!(!needs(&["perplexity", "--model", arpa, "-i", "t.txt"]), "an ARPA file");
        assert!(!needs(&["perplexity", "--model", "missing.gguf", "-i", "t.txt"]), "unreadable: reported here");
        assert!(!needs(&["bleu", "-r", "ref.txt", "-i", "sys.txt"]));
        assert!(!needs(&["models", gpt2]), "describing a folder reads no weights");

        let dir = tempfile::tempdir().unwrap();
        let suite = |models: &str| {
            let text = format!(
                "version: 1\nname: s\nmodels:\n{models}tasks:\n  - id: t\n    type: perplexity\n    dataset: {{path: t.txt}}\n    models: [m]\n    metrics: [bits_per_byte]\n"
            );
            std::fs::write(dir.path().join("t.txt"), "a b c\n").unwrap();
            std::fs::write(dir.path().join("suite.yaml"), text).unwrap();
            dir.path().join("suite.yaml").to_str().unwrap().to_owned()
        };
        let neural = suite(&format!("  - {{id: m, kind: causal, path: {gpt2}}}\n"));
        assert!(needs(&["run-suite", &neural]));
        assert!(!needs(&["validate", &neural]), "validation reads config.json only");
        let ngram = suite(&format!("  - {{id: m, kind: ngram, arpa: {arpa}}}\n"));
        assert!(!needs(&["run-suite", &ngram]));

        // GGUF files run on the quantized engine in this process unless asked for f32.
        let tiny = fixtures.join("gguf/tiny-llama.gguf");
        let tiny = tiny.to_str().unwrap();
        assert!(!needs(&["perplexity", "--model", tiny, "-i", "t.txt"]), "GGUF, quantized by default");
        assert!(needs(&["perplexity", "--model", tiny, "-i", "t.txt", "--compute", "f32"]), "GGUF in f32");
        assert!(!needs(&["run-suite", &suite(&format!("  - {{id: m, kind: causal, path: {tiny}}}\n"))]));
        let f32_suite = suite(&format!("  - {{id: m, kind: causal, path: {tiny}, compute: f32}}\n"));
        assert!(needs(&["run-suite", &f32_suite]));
    }
}
