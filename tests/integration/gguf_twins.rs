//! GGUF files of the tiny decoder checkpoints (tests/fixtures/gguf-twins, written by
//! scripts/gguf-twins.py as convert_hf_to_gguf.py lays them out, F16 and Q8_0) against their
//! safetensors twins in tests/fixtures/neural: the same log-probabilities within what rounding
//! the weights explains, from the dequantized libtorch network and from quantized compute. A
//! wrong tensor mapping, norm offset, rotary layout or window changes them by far more.

#![cfg(feature = "torch")]

use lmgauge::models::neural::{self, Compute, DeviceChoice, Family, NeuralOptions};
use serde_json::Value;

use crate::common::fixture;

/// The checkpoints with GGUF twins, whether quantized compute runs their architecture (Gemma 2,
/// whose attention soft-capping it does not reproduce, it refuses by name: tested below), and
/// the window length to compare in: Mistral's GGUF file is a `llama` file without the
/// checkpoint's sliding window of 8 (llama.cpp's llama has none), so it is compared in windows
/// of 8 positions, where the window never cuts.
const TWINS: &[(&str, bool, Option<usize>)] = &[
    ("llama3-rope", true, None),
    ("llama-linear-rope", true, None),
    ("mistral-window", true, Some(8)),
    ("qwen2-tied", true, None),
    ("qwen2-untied", true, None),
    ("gemma2-softcap", false, None),
    ("gemma3-local-global", true, None),
];

/// Allowed (mean, largest) per-token differences: F16 and Q8_0 weights against the checkpoint's
/// f32 ones, and quantized compute against the libtorch network on the same file. Measured on
/// these random checkpoints, whose sharp distributions amplify rounding (docs/models.md); a
/// wrong tensor mapping, norm offset, rotary layout or window moves the mean by 0.3 or more.
const F16_VS_F32: (f64, f64) = (5e-3, 0.05);
const Q8_0_VS_F32: (f64, f64) = (0.1, 1.0);
const QUANTIZED_VS_LIBTORCH: (f64, f64) = (0.06, 0.5);

fn texts() -> Vec<String> {
    let e: Value = serde_json::from_str(&std::fs::read_to_string(fixture("neural/expected.json")).unwrap()).unwrap();
    e["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect()
}

fn logprobs(
    path: &std::path::Path,
    compute: Option<Compute>,
    max_length: Option<usize>,
    texts: &[&str],
) -> Vec<Vec<f64>> {
    let options = NeuralOptions { device: DeviceChoice::Cpu, compute, max_length, ..NeuralOptions::default() };
    let model = neural::load(Family::Causal, path, &options).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    model.likelihoods(texts).unwrap().into_iter().map(|s| s.logprobs).collect()
}

/// Mean and largest absolute per-token difference.
fn compare(what: &str, got: &[Vec<f64>], want: &[Vec<f64>], (mean_tol, max_tol): (f64, f64)) {
    let (mut sum, mut n, mut worst) = (0.0, 0usize, 0f64);
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.len(), w.len(), "{what}: token count");
        for (a, b) in g.iter().zip(w) {
            let d = (a - b).abs();
            (sum, n, worst) = (sum + d, n + 1, worst.max(d));
        }
    }
    let mean = sum / n as f64;
    eprintln!("{what}: mean {mean:.2e}, largest {worst:.2e} over {n} tokens");
    assert!(mean < mean_tol && worst < max_tol, "{what}: mean {mean}, largest {worst}");
}

#[test]
fn gguf_twins_match_their_safetensors_folders() {
    let texts = texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    for &(name, quantized, max_length) in TWINS {
        let want = logprobs(&fixture(&format!("neural/{name}")), None, max_length, &texts);
        for (ty, tol) in [("F16", F16_VS_F32), ("Q8_0", Q8_0_VS_F32)] {
            let file = fixture(&format!("gguf-twins/{name}.{ty}.gguf"));
            let libtorch = logprobs(&file, Some(Compute::F32), max_length, &texts);
            compare(&format!("{name} {ty} (libtorch) vs safetensors"), &libtorch, &want, tol);
            if quantized {
                let q = logprobs(&file, Some(Compute::Quantized), max_length, &texts);
                compare(&format!("{name} {ty} quantized vs libtorch"), &q, &libtorch, QUANTIZED_VS_LIBTORCH);
            }
        }
    }
}

#[test]
fn quantized_compute_refuses_gemma2_by_name() {
    let options =
        NeuralOptions { device: DeviceChoice::Cpu, compute: Some(Compute::Quantized), ..NeuralOptions::default() };
    let err = neural::load(Family::Causal, &fixture("gguf-twins/gemma2-softcap.F16.gguf"), &options).err().unwrap();
    let err = err.to_string();
    assert!(
        err.contains("general.architecture \"gemma2\" is not supported by quantized compute")
            && err.contains("compute: f32"),
        "{err}"
    );
}
