//! Neural adapters against Hugging Face transformers 4.46.3: tiny random GPT-2, BERT and DistilBERT
//! checkpoints and transformers' own log-probabilities (scripts/neural-fixtures.py), for both
//! causal window policies, both PLL variants, batched and unbatched, every weight-file layout;
//! plus the errors a broken folder must give. Builds without `torch` check the refusal instead.

use crate::common::{fixture, lmgauge, stderr, workspace};

#[cfg(feature = "torch")]
mod parity {
    use std::path::{Path, PathBuf};

    use serde_json::Value;

    use super::*;
    use crate::common::{rel, stdout};
    fn expected() -> Value {
        let text = std::fs::read_to_string(fixture("neural/expected.json")).expect("fixture");
        serde_json::from_str(&text).expect("json")
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
    }

    /// Per-token agreement within 1e-4 relative (absolute near zero).
    fn assert_close(got: &[f64], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: token count");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-4 * w.abs().max(1.0), "{what}: token {i}: lmgauge {g} vs transformers {w}");
        }
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }

    use lmgauge::models::neural::hf::{ModelFolder, TextTokenizer};
    use lmgauge::models::neural::{self, DeviceChoice, Family, NeuralOptions, PllVariant};

    fn options() -> NeuralOptions {
        NeuralOptions { device: DeviceChoice::Cpu, ..NeuralOptions::default() }
    }

    fn texts(e: &Value) -> Vec<String> {
        e["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn tokenizers_match_transformers() {
        let e = expected();
        let texts = texts(&e);
        for (family, key) in [("causal", "ids"), ("masked", "ids")] {
            for (name, rec) in e[family].as_object().unwrap() {
                let folder = ModelFolder::open(&fixture(&format!("neural/{name}"))).unwrap();
                let tok = TextTokenizer::load(&folder).unwrap();
                for (text, item) in texts.iter().zip(rec["items"].as_array().unwrap()) {
                    let want: Vec<i64> = item[key].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
                    assert_eq!(tok.encode(text).unwrap().ids, want, "{name}: {text:?}");
                }
            }
        }
    }

    #[test]
    fn causal_rolling_and_sliding_match_transformers_batched_or_not() {
        let e = expected();
        let texts = texts(&e);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for (name, rec) in e["causal"].as_object().unwrap() {
            let path = fixture(&format!("neural/{name}"));
            let stride = rec["stride"].as_u64().unwrap() as usize;
            for (policy, stride) in [("rolling", None), ("sliding", Some(stride))] {
                // A budget below one window forces one window per pass; a large one pads many together.
                for batch_tokens in [1, 100_000] {
                    let model =
                        neural::load(Family::Causal, &path, &NeuralOptions { stride, batch_tokens, ..options() })
                            .unwrap();
                    assert_eq!(model.capabilities(), Family::Causal.capabilities());
                    let scorer = model.token_scorer().expect("a causal LM scores tokens");
                    let scores = scorer.score_batch(&refs).unwrap();
                    for (i, (s, item)) in scores.iter().zip(rec["items"].as_array().unwrap()).enumerate() {
                        assert_close(
                            &s.logprobs,
                            &floats(&item[policy]),
                            &format!("{name} {policy} text {i} batch {batch_tokens}"),
                        );
                    }
                    let file = scorer.score_tokens(e["file_text"].as_str().unwrap()).unwrap();
                    assert_close(&file.logprobs, &floats(&rec["file"][policy]), &format!("{name} {policy} file"));
                }
            }
        }
    }

    #[test]
    fn masked_pll_matches_the_per_token_masking_loop() {
        let e = expected();
        let texts = texts(&e);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for (name, rec) in e["masked"].as_object().unwrap() {
            let path = fixture(&format!("neural/{name}"));
            let stride = Some(rec["stride"].as_u64().unwrap() as usize);
            for (variant, key) in [(PllVariant::Original, "pll"), (PllVariant::WordL2r, "word_l2r")] {
                for batch_tokens in [64, 100_000] {
                    let model = neural::load(
                        Family::Masked,
                        &path,
                        &NeuralOptions { stride, pll: variant, batch_tokens, ..options() },
                    )
                    .unwrap();
                    assert_eq!(model.capabilities(), Family::Masked.capabilities());
                    let scores = model.pseudo_likelihood().expect("a masked LM").pseudo_scores(&refs).unwrap();
                    for (i, (s, item)) in scores.iter().zip(rec["items"].as_array().unwrap()).enumerate() {
                        assert!(s.pseudo);
                        assert_close(&s.logprobs, &floats(&item[key]), &format!("{name} {key} text {i}"));
                    }
                }
            }
        }
    }

    #[test]
    fn masked_continuations_are_the_texts_pll_with_the_context_never_masked() {
        // Each token's PLL masks only that token (and, word-l2r, the rest of its word), so the
        // continuation's tokens score in `context + continuation` exactly as in the whole
        // text's PLL; the context's tokens are not scored at all.
        let e = expected();
        let texts = texts(&e);
        for name in e["masked"].as_object().unwrap().keys() {
            let path = fixture(&format!("neural/{name}"));
            for variant in [PllVariant::Original, PllVariant::WordL2r] {
                let model = neural::load(Family::Masked, &path, &NeuralOptions { pll: variant, ..options() }).unwrap();
                let pll = model.pseudo_likelihood().unwrap();
                for text in &texts {
                    let cut = text.trim_end().rfind(' ').unwrap_or(0);
                    let (context, continuation) = text.split_at(cut);
                    let whole = pll.pseudo_scores(&[text]).unwrap().remove(0);
                    let part = model.continuation_likelihoods(&[(context, continuation)]).unwrap().remove(0);
                    let keep: Vec<usize> = (0..whole.spans.len()).filter(|&i| whole.spans[i].1 > cut).collect();
                    assert!(!keep.is_empty() && keep.len() < whole.spans.len() || cut == 0, "{name}: {text:?}");
                    assert_eq!(part.spans, keep.iter().map(|&i| whole.spans[i]).collect::<Vec<_>>());
                    let want: Vec<f64> = keep.iter().map(|&i| whole.logprobs[i]).collect();
                    assert_close(&part.logprobs, &want, &format!("{name} {variant} {text:?}"));
                    assert_eq!((part.bytes, part.pseudo), (continuation.len(), true));
                }
            }
        }
    }

    #[test]
    fn causal_continuations_without_context_are_the_rolling_scores() {
        // lm-evaluation-harness's loglikelihood("", text) is its rolling window's first window.
        let e = expected();
        let texts: Vec<String> = texts(&e).into_iter().filter(|t| t.len() < 100).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        for name in e["causal"].as_object().unwrap().keys() {
            let model = neural::load(Family::Causal, &fixture(&format!("neural/{name}")), &options()).unwrap();
            let requests: Vec<(&str, &str)> = refs.iter().map(|t| ("", *t)).collect();
            let rolling = model.likelihoods(&refs).unwrap();
            for (c, r) in model.continuation_likelihoods(&requests).unwrap().iter().zip(&rolling) {
                assert_eq!((&c.logprobs, &c.spans), (&r.logprobs, &r.spans), "{name}");
            }
            // A context of only whitespace has nothing to condition on and is refused.
            let err = model.continuation_likelihoods(&[("  ", "a b")]).unwrap_err().to_string();
            assert!(err.contains("only whitespace"), "{err}");
        }
    }

    #[test]
    fn the_longest_text_really_spans_several_windows() {
        // Guards the fixtures: without a text longer than the context, windowing is untested.
        let e = expected();
        let n = e["causal"]["gpt2-safetensors"]["items"].as_array().unwrap().last().unwrap()["ids"]
            .as_array()
            .unwrap()
            .len();
        assert!(n > 3 * e["causal"]["gpt2-safetensors"]["n_positions"].as_u64().unwrap() as usize);
        let m = e["masked"]["bert-safetensors"]["items"].as_array().unwrap().last().unwrap()["ids"]
            .as_array()
            .unwrap()
            .len();
        assert!(m > 3 * e["masked"]["bert-safetensors"]["max_positions"].as_u64().unwrap() as usize);
    }

    #[test]
    fn the_batched_fixture_runs_really_pack_several_windows_into_one_row() {
        // Guards the fixtures: the large-budget runs above must put short windows side by side
        // (each attending only within itself) for every architecture, or packing goes untested.
        use lmgauge::models::neural::windows;
        let e = expected();
        for (name, rec) in e["causal"].as_object().unwrap() {
            let n_positions = rec["n_positions"].as_u64().unwrap() as usize;
            let mut lengths = Vec::new();
            for item in rec["items"].as_array().unwrap() {
                let ids: Vec<i64> = item["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
                lengths.extend(windows::rolling(&ids, 0, n_positions).iter().map(|w| w.input.len()));
            }
            let rows = windows::pack(&lengths, *lengths.iter().max().unwrap());
            let most = rows.iter().map(Vec::len).max().unwrap();
            match n_positions {
                64.. => assert!(most >= 3, "{name}: {rows:?}"),
                40.. => assert!(most >= 2, "{name}: {rows:?}"),
                _ => {}
            }
        }
    }

    #[test]
    fn cli_unit_file_with_stride_is_the_transformers_guide_loop() {
        let e = expected();
        let rec = &e["causal"]["gpt2-safetensors"];
        let ws = workspace(&[("wiki.txt", e["file_text"].as_str().unwrap())]);
        let model = fixture("neural/gpt2-safetensors");
        let stride = rec["stride"].to_string();
        let o = lmgauge(
            ws.path(),
            &[
                "perplexity",
                "--model",
                model.to_str().unwrap(),
                "--input",
                "wiki.txt",
                "--unit",
                "file",
                "--stride",
                &stride,
                "--device",
                "cpu",
                "--json",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let want = floats(&rec["file"]["sliding"]);
        let nll: f64 = -want.iter().sum::<f64>();
        assert!(rel(v["nll"].as_f64().unwrap(), nll) < 1e-5, "{} vs {nll}", v["nll"]);
        assert_eq!(v["tokens"].as_f64().unwrap() as usize, want.len());
        assert!(rel(v["token_perplexity"].as_f64().unwrap(), (nll / want.len() as f64).exp()) < 1e-5);
        // Masked models report pseudo-perplexity under its own name.
        let bert = fixture("neural/bert-safetensors");
        let o = lmgauge(
            ws.path(),
            &["perplexity", "--model", bert.to_str().unwrap(), "--input", "wiki.txt", "--pll", "word-l2r", "--json"],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert!(v["pseudo_perplexity"].as_f64().unwrap() > 1.0);
        assert_eq!(v["pll"], "word-l2r");
    }

    fn broken(name: &str, edit: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join(name);
        copy_dir(&fixture(&format!("neural/{name}")), &model);
        edit(&model);
        (dir, model)
    }

    fn load_error(family: Family, path: &Path) -> String {
        match neural::load(family, path, &options()) {
            Ok(_) => panic!("{} loaded", path.display()),
            Err(e) => e.to_string(),
        }
    }

    fn edit_config(model: &Path, f: impl FnOnce(&mut serde_json::Map<String, Value>)) {
        let p = model.join("config.json");
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        f(v.as_object_mut().unwrap());
        std::fs::write(p, v.to_string()).unwrap();
    }

    #[test]
    fn broken_folders_give_errors_that_name_the_file() {
        let (_d, m) = broken("gpt2-safetensors", |m| {
            edit_config(m, |c| {
                c.remove("n_embd");
            })
        });
        let e = load_error(Family::Causal, &m);
        assert!(e.contains("config.json") && e.contains("n_embd"), "{e}");

        let (_d, m) = broken("gpt2-safetensors", |m| {
            edit_config(m, |c| {
                c.insert("n_embd".into(), 40.into());
            })
        });
        let e = load_error(Family::Causal, &m);
        assert!(e.contains("model.safetensors") && e.contains("shape"), "{e}");

        let (_d, m) = broken("bert-safetensors", |m| {
            edit_config(m, |c| {
                c.insert("vocab_size".into(), 401.into());
            })
        });
        let e = load_error(Family::Masked, &m);
        assert!(e.contains("shape") && e.contains("word_embeddings"), "{e}");

        let (_d, m) = broken("gpt2-safetensors", |m| {
            let p = m.join("model.safetensors");
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        });
        let e = load_error(Family::Causal, &m);
        assert!(e.contains("model.safetensors") && e.contains("not a valid safetensors"), "{e}");

        let (_d, m) = broken("gpt2-safetensors", |m| std::fs::write(m.join("model.safetensors"), [0xffu8; 7]).unwrap());
        assert!(load_error(Family::Causal, &m).contains("not a valid safetensors"));

        let (_d, m) = broken("gpt2-bin", |m| {
            let p = m.join("pytorch_model.bin");
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 3]).unwrap();
        });
        let e = load_error(Family::Causal, &m);
        assert!(e.contains("pytorch_model.bin"), "{e}");

        let (_d, m) = broken("gpt2-safetensors", |m| {
            edit_config(m, |c| {
                c.insert("model_type".into(), "mamba".into());
            })
        });
        let e = load_error(Family::Causal, &m);
        assert!(e.contains("config.json") && e.contains("\"mamba\"") && e.contains("gpt2"), "{e}");

        let (_d, m) = broken("bert-safetensors", |_| {});
        let e = load_error(Family::Causal, &m);
        assert!(e.contains("use kind masked"), "{e}");

        // A shard listed in the index that is gone, and tensors that no shard holds.
        let (_d, m) =
            broken("gpt2-sharded", |m| std::fs::remove_file(m.join("model-00003-of-00003.safetensors")).unwrap());
        assert!(load_error(Family::Causal, &m).contains("does not exist"));
        let (_d, m) = broken("gpt2-sharded", |m| {
            let p = m.join("model.safetensors.index.json");
            let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            v["weight_map"].as_object_mut().unwrap().retain(|_, f| f != "model-00001-of-00003.safetensors");
            std::fs::write(&p, v.to_string()).unwrap();
        });
        assert!(load_error(Family::Causal, &m).contains("missing tensor"));

        // GPT-Neo: layer types must cover the layers; an activation lmgauge does not compute is named.
        let (_d, m) = broken("gpt-neo-tied", |m| {
            edit_config(m, |c| {
                c.insert("num_layers".into(), 4.into());
            })
        });
        let e = load_error(Family::Causal, &m);
        assert!(e.contains("config.json") && e.contains("attention_types describe 3 layers"), "{e}");
        let (_d, m) = broken("gpt-neo-tied", |m| {
            edit_config(m, |c| {
                c.insert("activation_function".into(), "quick_gelu".into());
            })
        });
        assert!(load_error(Family::Causal, &m).contains("\"quick_gelu\" is not supported"));
        let (_d, m) = broken("gpt-neo-untied", |m| std::fs::remove_file(m.join("model.safetensors")).unwrap());
        assert!(load_error(Family::Causal, &m).contains("gpt-neo-untied"));

        let (_d, m) = broken("gpt2-safetensors", |m| std::fs::remove_file(m.join("config.json")).unwrap());
        assert!(load_error(Family::Causal, &m).contains("config.json"));
        let (_d, m) = broken("bert-safetensors", |m| std::fs::remove_file(m.join("vocab.txt")).unwrap());
        assert!(load_error(Family::Masked, &m).contains("no tokenizer"));
    }

    #[test]
    fn reward_models_match_transformers_batched_or_not() {
        let e = expected();
        let pairs: Vec<(String, String)> = e["reward"]["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
            .collect();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        for (name, rec) in e["reward"]["models"].as_object().unwrap() {
            // Most HH transcripts exceed the context: truncation is exercised, not assumed. The
            // saved tokenizer.json files carry transformers' last truncation setting (max_length
            // 64), which must be ignored as transformers ignores it.
            let max = match name.as_str() {
                "bert-reward" | "roberta-reward" | "deberta-v3-reward" => 64,
                _ => 48,
            };
            assert!(rec["lengths"].as_array().unwrap().iter().filter(|l| l.as_u64() == Some(max)).count() >= 4);
            for batch_tokens in [1, 100_000] {
                let model = neural::load(
                    Family::Reward,
                    &fixture(&format!("neural/{name}")),
                    &NeuralOptions { batch_tokens, ..options() },
                )
                .unwrap();
                assert_eq!(model.capabilities(), Family::Reward.capabilities());
                let got = model.rewards(&refs).unwrap();
                assert_close(&got, &floats(&rec["rewards"]), &format!("{name} rewards, batch {batch_tokens}"));
            }
        }
        let e = load_error(Family::Reward, &fixture("neural/bert-safetensors"));
        assert!(e.contains("one output"), "{e}");
    }

    /// A reward judge in a preference suite: its accuracy is the share of pairs whose chosen
    /// response gets the higher reward, computed here from transformers' own rewards.
    /// DeBERTa-v2 options this crate does not compute, and broken shapes, are refused by name.
    /// A case: its name, how it edits config.json, and the words the refusal must hold.
    type ConfigCase = (&'static str, fn(&mut serde_json::Map<String, Value>), &'static [&'static str]);

    #[test]
    fn deberta_reward_configs_are_checked() {
        let cases: [ConfigCase; 6] = [
            (
                "deberta-v3-reward",
                |c| {
                    c.insert("hidden_act".into(), "mish".into());
                },
                &["hidden_act", "\"mish\""],
            ),
            (
                "deberta-v3-reward",
                |c| {
                    c.insert("pos_att_type".into(), serde_json::json!(["c2p", "p2p"]));
                },
                &["pos_att_type", "p2p"],
            ),
            (
                "deberta-v3-reward",
                |c| {
                    c.insert("pooler_hidden_size".into(), 64.into());
                },
                &["pooler_hidden_size"],
            ),
            (
                "deberta-v3-reward",
                |c| {
                    c.insert("position_buckets".into(), 200.into());
                },
                &["position_buckets"],
            ),
            (
                "deberta-v3-reward",
                |c| {
                    c.insert("share_att_key".into(), false.into());
                },
                &["missing tensor", "pos_key_proj"],
            ),
            (
                "deberta-v2-reward",
                |c| {
                    c.insert("conv_kernel_size".into(), 5.into());
                },
                &["shape", "conv.conv.weight"],
            ),
        ];
        for (name, edit, words) in cases {
            let (_d, m) = broken(name, |m| edit_config(m, edit));
            let e = load_error(Family::Reward, &m);
            assert!(
                words.iter().all(|w| e.contains(w)) && (e.contains("config.json") || e.contains("model.safetensors")),
                "{e}"
            );
        }
        let (_d, m) = broken("deberta-v3-reward", |m| {
            edit_config(m, |c| {
                c.insert("model_type".into(), "deberta".into());
            })
        });
        let e = load_error(Family::Reward, &m);
        assert!(e.contains("\"deberta\"") && e.contains("deberta-v2"), "{e}");
    }

    #[test]
    fn reward_judge_accuracy_follows_transformers_rewards() {
        let e = expected();
        let rewards = floats(&e["reward"]["models"]["bert-reward"]["rewards"]);
        // Pairs 1..=8 of the fixture are (chosen, rejected) of the first four HH-RLHF records.
        let wins = (0..4).filter(|k| rewards[1 + 2 * k] > rewards[2 + 2 * k]).count();
        let data =
            std::fs::read_to_string(crate::common::repo().join("data/hh-rlhf/harmless-base-test.jsonl")).unwrap();
        let four: String = data.lines().take(4).map(|l| format!("{l}\n")).collect();
        let suite = format!(
            "version: 1\nname: rm\nbootstrap: 20\nmodels:\n  - {{id: rm, kind: reward, path: {}, device: cpu}}\ntasks:\n  - id: hh\n    type: preference\n    dataset: {{path: pairs.jsonl}}\n    layout: hh\n    models: [rm]\n    metrics: [accuracy]\n",
            fixture("neural/bert-reward").display()
        );
        let ws = workspace(&[("suite.yaml", &suite), ("pairs.jsonl", &four)]);
        let o = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let csv = std::fs::read_to_string(ws.path().join("out/rm/latest/results.csv")).unwrap();
        let row = csv.lines().find(|l| l.starts_with("hh,rm,accuracy,")).expect("accuracy row");
        let value: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
        assert_eq!(value, wins as f64 / 4.0, "{csv}");
    }

    /// Human agreement with the three neural families as judges: a reward model's score of each
    /// output given its source equals transformers' reward (the preference fixture's pairs, as
    /// rated outputs), and causal and masked LMs give every output a finite log-likelihood
    /// (prompted only for the causal LM).
    #[test]
    fn human_agreement_judges_of_every_neural_family() {
        let e = expected();
        let rewards = floats(&e["reward"]["models"]["bert-reward"]["rewards"]);
        let data =
            std::fs::read_to_string(crate::common::repo().join("data/hh-rlhf/harmless-base-test.jsonl")).unwrap();
        let (mut rows, mut short) = (String::new(), String::new());
        let mut want = std::collections::BTreeMap::new();
        for (k, line) in data.lines().take(4).enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            let (chosen, rejected) = (v["chosen"].as_str().unwrap(), v["rejected"].as_str().unwrap());
            let (prompt, good) = lmgauge::data::pairs::split_hh(chosen).unwrap();
            let bad = &rejected[prompt.len()..];
            for (system, text, human, reward) in
                [("chosen", good, 1.0, rewards[1 + 2 * k]), ("rejected", bad, 0.0, rewards[2 + 2 * k])]
            {
                let row = serde_json::json!({"item": k.to_string(), "system": system, "hypothesis": text, "reference": good, "source": prompt, "human": human});
                rows += &format!("{row}\n");
                want.insert(format!("{k}/{system}"), reward);
                // The tiny causal LM reads 64 tokens: its outputs are the first words.
                let cut = |t: &str| t.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
                let row = serde_json::json!({"item": k.to_string(), "system": system, "hypothesis": cut(text), "reference": cut(good), "source": cut(prompt.trim_start()), "human": human});
                short += &format!("{row}\n");
            }
        }
        let suite = format!(
            "version: 1\nname: judges\nbootstrap: 10\nmodels:\n  - {{id: rm, kind: reward, path: {}, device: cpu}}\n  - {{id: gpt2, kind: causal, path: {}, device: cpu}}\n  - {{id: bert, kind: masked, path: {}, device: cpu}}\ntasks:\n  - id: rated\n    type: human-agreement\n    dataset: {{path: rated.jsonl}}\n    columns: {{source: source}}\n    prompt: \"Dialogue: {{source}}\"\n    permutations: 10\n    models: [rm]\n    metrics: [seg_kendall, item_kendall, sys_pearson]\n  - id: short\n    type: human-agreement\n    dataset: {{path: short.jsonl}}\n    columns: {{source: source}}\n    prompt: \"Dialogue: {{source}}\"\n    permutations: 10\n    models: [gpt2, bert]\n    metrics: [seg_kendall, item_kendall, sys_pearson]\n",
            fixture("neural/bert-reward").display(),
            fixture("neural/gpt2-safetensors").display(),
            fixture("neural/bert-safetensors").display()
        );
        let ws = workspace(&[("suite.yaml", &suite), ("rated.jsonl", &rows), ("short.jsonl", &short)]);
        let o = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let run = ws.path().join("out/judges/latest");
        let record: Value = serde_json::from_slice(&std::fs::read(run.join("jobs/rated__rm.json")).unwrap()).unwrap();
        let items = record["items"].as_array().unwrap();
        assert_eq!(items.len(), 8);
        for it in items {
            let got = it["scores"]["judge.reward"].as_f64().unwrap();
            let w = want[it["id"].as_str().unwrap()];
            assert!((got - w).abs() <= 1e-4 * w.abs().max(1.0), "{}: {got} vs transformers {w}", it["id"]);
        }
        let csv = std::fs::read_to_string(run.join("results.csv")).unwrap();
        for judge in [
            "rm:reward",
            "gpt2:loglik",
            "gpt2:loglik_per_token",
            "gpt2:prompted",
            "gpt2:prompted_per_token",
            "bert:pll",
            "bert:pll_per_token",
        ] {
            let task = if judge.starts_with("rm") { "rated" } else { "short" };
            let row = csv
                .lines()
                .find(|l| l.starts_with(&format!("{task},{judge}@human,seg_kendall,")))
                .unwrap_or_else(|| panic!("no {judge} row in\n{csv}"));
            let v: f64 = row.split(',').nth(3).unwrap().parse().unwrap();
            assert!((-1.0..=1.0).contains(&v), "{row}");
        }
        assert!(!csv.contains("bert:prompted"), "a masked LM is not prompted");
    }

    /// Seeded mutations of a real safetensors file and a real PyTorch zip: every load returns (a
    /// model or an error); none panics, aborts or allocates without bound.
    #[test]
    fn mutated_checkpoints_never_crash() {
        let mut g = crate::common::Gen(0x5EED_0004);
        for (name, file) in [("gpt2-safetensors", "model.safetensors"), ("gpt2-bin", "pytorch_model.bin")] {
            let dir = tempfile::tempdir().unwrap();
            let model = dir.path().join(name);
            copy_dir(&fixture(&format!("neural/{name}")), &model);
            let original = std::fs::read(model.join(file)).unwrap();
            for round in 0..150 {
                let mut bytes = original.clone();
                // Mostly the header (where sizes and offsets live), sometimes anywhere; sometimes cut.
                for _ in 0..1 + g.below(4) {
                    let span = if g.below(3) == 0 { bytes.len() } else { 400.min(bytes.len()) };
                    let at = g.below(span);
                    bytes[at] = g.next() as u8;
                }
                if round % 5 == 0 {
                    let keep = g.below(bytes.len());
                    bytes.truncate(keep);
                }
                std::fs::write(model.join(file), &bytes).unwrap();
                let _ = neural::load(Family::Causal, &model, &options());
            }
        }
    }

    #[test]
    fn half_precision_on_the_cpu_and_missing_gpus_are_refused() {
        let path = fixture("neural/gpt2-safetensors");
        let e = neural::load(Family::Causal, &path, &NeuralOptions { dtype: neural::Dtype::F16, ..options() })
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("CUDA"), "{e}");
        if neural::cuda_device_count() == 0 {
            let e = neural::load(Family::Causal, &path, &NeuralOptions { device: DeviceChoice::Cuda(0), ..options() })
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("no CUDA device"), "{e}");
        }
    }

    #[test]
    fn cuda_matches_transformers_when_a_gpu_is_present() {
        if !crate::common::cuda_or_skip("CUDA parity with transformers") {
            return;
        }
        let e = expected();
        let texts = texts(&e);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let rec = &e["causal"]["gpt2-safetensors"];
        let model = neural::load(
            Family::Causal,
            &fixture("neural/gpt2-safetensors"),
            &NeuralOptions { device: DeviceChoice::Cuda(0), ..options() },
        )
        .unwrap();
        for (s, item) in model.likelihoods(&refs).unwrap().iter().zip(rec["items"].as_array().unwrap()) {
            assert_close(&s.logprobs, &floats(&item["rolling"]), "cuda rolling");
        }
        let rec = &e["masked"]["bert-safetensors"];
        let model = neural::load(
            Family::Masked,
            &fixture("neural/bert-safetensors"),
            &NeuralOptions {
                device: DeviceChoice::Cuda(0),
                stride: Some(rec["stride"].as_u64().unwrap() as usize),
                ..options()
            },
        )
        .unwrap();
        for (s, item) in model.likelihoods(&refs).unwrap().iter().zip(rec["items"].as_array().unwrap()) {
            assert_close(&s.logprobs, &floats(&item["pll"]), "cuda pll");
        }
    }
}

/// A suite with an n-gram, a causal and a masked model on one perplexity task: masked rows carry
/// pseudo names, causal ones the usual names.
#[test]
fn suite_runs_ngram_causal_and_masked_side_by_side() {
    let gpt2 = fixture("neural/gpt2-safetensors");
    let bert = fixture("neural/distilbert-safetensors");
    let train = crate::common::repo().join("data/wikitext-2/valid.txt");
    let suite = format!(
        "version: 1\nname: neural\nbootstrap: 50\nmodels:\n  - {{id: kn2, kind: ngram, train: {}, order: 2, skip_symbols: true}}\n  - {{id: gpt2, kind: causal, path: {}, device: cpu}}\n  - {{id: bert, kind: masked, path: {}, device: cpu, pll: word-l2r}}\ntasks:\n  - id: ppl\n    type: perplexity\n    dataset: {{path: text.txt, format: text, unit: line, limit: 40}}\n    models: [kn2, gpt2, bert]\n    metrics: [word_perplexity, bits_per_byte]\n",
        train.display(),
        gpt2.display(),
        bert.display()
    );
    let test: String = std::fs::read_to_string(crate::common::repo().join("data/wikitext-2/test.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(40)
        .collect::<Vec<_>>()
        .join("\n");
    let ws = workspace(&[("suite.yaml", &suite), ("text.txt", &test)]);
    let o = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    if !lmgauge::models::neural::ENABLED {
        assert!(!o.status.success());
        assert!(stderr(&o).contains("not enabled in this build"), "{}", stderr(&o));
        return;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(ws.path().join("out/neural/latest/results.csv")).unwrap();
    assert!(csv.contains("ppl,bert,pseudo_word_perplexity") && csv.contains("ppl,bert,pseudo_bits_per_byte"), "{csv}");
    assert!(csv.contains("ppl,gpt2,word_perplexity") && csv.contains("ppl,kn2,bits_per_byte"), "{csv}");
    assert!(!csv.contains("ppl,bert,word_perplexity"), "{csv}");
    // Same suite, same seed: byte-identical results.
    let o = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out2"]);
    assert!(o.status.success());
    assert_eq!(csv, std::fs::read_to_string(ws.path().join("out2/neural/latest/results.csv")).unwrap());
    let html = std::fs::read_to_string(ws.path().join("out/neural/latest/index.html")).unwrap();
    assert!(
        html.contains("GPT-2 causal LM") && html.contains("pseudo-log-likelihood"),
        "report says what each model is"
    );
}

#[test]
fn suite_validation_checks_neural_options() {
    let suite = "version: 1\nname: bad\nmodels:\n  - {id: g, kind: causal, path: nowhere, pll: word-l2r, dtype: f8}\ntasks:\n  - id: t\n    type: perplexity\n    dataset: {path: t.txt}\n    models: [g]\n    metrics: [bits_per_byte]\n";
    let ws = workspace(&[("suite.yaml", suite), ("t.txt", "a b c\n")]);
    let o = lmgauge(ws.path(), &["validate", "suite.yaml"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    if lmgauge::models::neural::ENABLED {
        assert!(err.contains("suite.yaml:4:") && err.contains("nor a Hugging Face model folder"), "{err}");
        assert!(err.contains("unknown dtype \"f8\"") && err.contains("`pll` applies to masked models only"), "{err}");
    } else {
        assert!(err.contains("not enabled in this build"), "{err}");
    }
}

#[test]
fn invalid_utf8_text_names_the_file_and_line() {
    let ws = workspace(&[]);
    std::fs::write(ws.path().join("bad.txt"), b"fine line\nbad \xff byte\n").unwrap();
    let model = fixture("neural/gpt2-safetensors");
    let o = lmgauge(
        ws.path(),
        &["perplexity", "--model", model.to_str().unwrap(), "--input", "bad.txt", "--device", "cpu"],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("bad.txt") && err.contains('2'), "{err}");
}

/// `lmgauge models` lists what this build supports and describes a folder without loading its
/// weights, checking the configuration of the architectures lmgauge implements itself.
#[test]
fn models_command_lists_kinds_and_describes_folders() {
    let ws = workspace(&[]);
    let o = lmgauge(ws.path(), &["models", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["kinds"]["reward"].as_str().unwrap().contains("deberta-v2"), "{v}");
    assert!(v["kinds"]["encoder"].as_str().unwrap().contains("model_type bert,"), "{v}");
    assert!(v["gguf"]["tensor_types"].as_array().unwrap().len() == 12, "{v}");
    assert_eq!(v["gguf"]["quantized_compute"]["tensor_types"].as_array().unwrap().len(), 9, "{v}");

    let folder = fixture("neural/deberta-v3-reward");
    let o = lmgauge(ws.path(), &["models", folder.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["usable_as"], serde_json::json!(["reward"]));
    assert!(v["configuration"].as_str().unwrap().contains("16 log buckets"), "{v}");

    std::fs::create_dir(ws.path().join("odd")).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(folder.join(f), ws.path().join("odd").join(f)).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("config.json")).unwrap()).unwrap();
    config["hidden_act"] = "mish".into();
    std::fs::write(ws.path().join("odd/config.json"), config.to_string()).unwrap();
    let o = lmgauge(ws.path(), &["models", "odd", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["configuration"].as_str().unwrap().starts_with("not loadable")
            && v["configuration"].as_str().unwrap().contains("mish"),
        "{v}"
    );

    let o = lmgauge(ws.path(), &["models", fixture("neural/bert-reward").to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v.get("configuration").is_none() && v["usable_as"] == serde_json::json!(["masked", "reward", "encoder"]),
        "{v}"
    );
}

/// docs/models.md's support table is exactly what the registry generates (`models --table`).
#[test]
fn the_documented_support_table_is_the_registry() {
    let ws = workspace(&[]);
    let o = lmgauge(ws.path(), &["models", "--table"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = crate::common::stdout(&o);
    assert!(
        table.contains("| `gemma2` | HF folder | causal |") && table.contains("| `llama` | GGUF | causal |"),
        "{table}"
    );
    let docs = std::fs::read_to_string(crate::common::repo().join("docs/models.md")).unwrap();
    let (_, rest) = docs.split_once("<!-- support-table:start -->\n").expect("start marker");
    let (documented, _) = rest.split_once("<!-- support-table:end -->").expect("end marker");
    assert_eq!(documented, table, "docs/models.md is stale: paste `lmgauge models --table` between the markers");
}

/// The decoder readers refuse, by key and value, what they do not reproduce.
#[test]
fn decoder_configs_outside_what_is_reproduced_are_refused_by_name() {
    use lmgauge::models::neural::decoders;
    use lmgauge::models::neural::hf::ModelFolder;
    let cases: &[(&str, &str, serde_json::Value, &str)] = &[
        (
            "llama3-rope",
            "rope_scaling",
            serde_json::json!({"rope_type": "yarn", "factor": 4.0}),
            "rope_scaling type \"yarn\" is not supported for llama (supported: linear, dynamic, llama3)",
        ),
        (
            "llama3-rope",
            "rope_scaling",
            serde_json::json!({"rope_type": "llama3", "factor": 8.0}),
            "rope_scaling.low_freq_factor is missing",
        ),
        (
            "llama-linear-rope",
            "rope_scaling",
            serde_json::json!({"type": "linear", "factor": -2.0}),
            "rope_scaling.factor is -2",
        ),
        (
            "qwen2-tied",
            "use_sliding_window",
            serde_json::json!(true),
            "use_sliding_window true is not supported for qwen2",
        ),
        (
            "mistral-window",
            "rope_scaling",
            serde_json::json!({"type": "linear", "factor": 2.0}),
            "rope_scaling is not supported for mistral",
        ),
        ("mistral-window", "sliding_window", serde_json::json!(0), "sliding_window is 0"),
        (
            "gemma2-softcap",
            "hidden_activation",
            serde_json::json!("relu"),
            "hidden_activation \"relu\" is not supported",
        ),
        ("gemma2-softcap", "final_logit_softcapping", serde_json::json!(-1.0), "final_logit_softcapping is -1"),
        (
            "phi3-longrope",
            "rope_scaling",
            serde_json::json!({"type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}),
            "rope_scaling.short_factor must be 4 positive numbers",
        ),
        (
            "phi3-longrope",
            "partial_rotary_factor",
            serde_json::json!(0.5),
            "partial_rotary_factor below 1 is not supported",
        ),
    ];
    for (name, key, value, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let from = fixture(&format!("neural/{name}"));
        for f in ["model.safetensors", "tokenizer.json"] {
            std::fs::copy(from.join(f), dir.path().join(f)).unwrap();
        }
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(from.join("config.json")).unwrap()).unwrap();
        config[*key] = value.clone();
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let folder = ModelFolder::open(dir.path()).unwrap();
        let e = decoders::read_hf(&folder).expect("a decoder type").unwrap_err().to_string();
        assert!(e.contains(want) && e.contains("config.json"), "{name} {key}: {e}");
    }
    // Every fixture of the decoder architectures reads, and says what it is.
    for (name, want) in [
        ("llama3-rope", "llama3 rope scaling ×8 from 40"),
        ("qwen2-untied", "Qwen2 causal LM: 3 layers"),
        ("mistral-window", "sliding window 8"),
        ("gemma2-softcap", "sliding window 8 in 2 of 3 layers, attention soft-cap 4, logit soft-cap 3"),
        ("phi3-longrope", "longrope from 16"),
    ] {
        let folder = ModelFolder::open(&fixture(&format!("neural/{name}"))).unwrap();
        let summary = decoders::read_hf(&folder).unwrap().unwrap().summary(0.0);
        assert!(summary.contains(want), "{name}: {summary}");
    }
}
