//! Generation: greedy decoding of the tiny random GPT-2 and Llama fixtures against transformers'
//! `generate` token for token (scripts/neural-fixtures.py `generate`), batched equal to one at a
//! time, seeded sampling reproducible; n-gram generation from the back-off distribution; the
//! `generation` task type end to end (outputs kept, scored, escaped in the report, resumable);
//! validation and the `lmgauge generate` command.

use serde_json::Value;

use crate::common::{fixture, lmgauge, repo, stderr, stdout, workspace};

#[cfg(feature = "torch")]
mod neural {
    use lmgauge::models::generate::{Finish, GenParams, Strategy};
    use lmgauge::models::neural::hf::{ModelFolder, TextTokenizer};
    use lmgauge::models::neural::{self, DeviceChoice, Family, NeuralOptions};
    use serde_json::Value;

    use crate::common::fixture;

    fn expected() -> Value {
        serde_json::from_str(&std::fs::read_to_string(fixture("neural/expected.json")).unwrap()).unwrap()
    }

    fn ids(v: &Value) -> Vec<u32> {
        v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
    }

    #[test]
    fn greedy_decoding_equals_transformers_generate_batched_or_not() {
        let e = expected();
        for (name, cases) in e["generate"].as_object().unwrap() {
            let path = fixture(&format!("neural/{name}"));
            let tok = TextTokenizer::load(&ModelFolder::open(&path).unwrap()).unwrap();
            let prompts: Vec<&str> = cases.as_array().unwrap().iter().map(|c| c["prompt"].as_str().unwrap()).collect();
            for c in cases.as_array().unwrap() {
                let want: Vec<i64> = ids(&c["prompt_ids"]).into_iter().map(i64::from).collect();
                assert_eq!(tok.encode(c["prompt"].as_str().unwrap()).unwrap().ids, want, "{name}: prompt tokens");
            }
            let params = GenParams { max_new_tokens: 12, ..GenParams::default() };
            // batch_tokens 1: one prompt per pass; 100,000: all prompts in one left-padded batch.
            for batch_tokens in [1, 100_000] {
                let model = neural::load(
                    Family::Causal,
                    &path,
                    &NeuralOptions { device: DeviceChoice::Cpu, batch_tokens, ..NeuralOptions::default() },
                )
                .unwrap();
                let out = model.generate(&prompts, &params).unwrap();
                for (g, c) in out.iter().zip(cases.as_array().unwrap()) {
                    let want = ids(&c["continuation"]);
                    assert_eq!(g.token_ids, want, "{name} batch_tokens {batch_tokens}: {:?}", c["prompt"]);
                    assert_eq!(g.tokens, want.len());
                    let ended = want.len() < 12;
                    assert_eq!(g.finish, if ended { Finish::EndOfText } else { Finish::Length }, "{name}");
                }
            }
        }
    }

    #[test]
    fn sampling_is_reproducible_and_independent_of_batching() {
        let path = fixture("neural/llama-gqa-tied");
        let prompts = ["The album was", "In 2006", "He was cast in the"];
        let params = GenParams {
            max_new_tokens: 10,
            strategy: Strategy::Sample,
            temperature: 1.3,
            top_k: 50,
            top_p: 0.95,
            seed: 42,
            ..GenParams::default()
        };
        let run = |batch_tokens: usize, params: &GenParams| {
            let model = neural::load(
                Family::Causal,
                &path,
                &NeuralOptions { device: DeviceChoice::Cpu, batch_tokens, ..NeuralOptions::default() },
            )
            .unwrap();
            model.generate(&prompts, params).unwrap().into_iter().map(|g| g.token_ids).collect::<Vec<_>>()
        };
        let a = run(100_000, &params);
        assert_eq!(a, run(100_000, &params), "same seed, same text");
        assert_eq!(a, run(1, &params), "batching changes nothing");
        assert_ne!(a, run(100_000, &GenParams { seed: 43, ..params.clone() }), "another seed, another text");
        let greedy = run(100_000, &GenParams { max_new_tokens: 10, ..GenParams::default() });
        assert_ne!(a, greedy, "sampling is not greedy");
    }

    #[test]
    fn stop_sequences_cut_the_text() {
        let path = fixture("neural/gpt2-safetensors");
        let model = neural::load(
            Family::Causal,
            &path,
            &NeuralOptions { device: DeviceChoice::Cpu, ..NeuralOptions::default() },
        )
        .unwrap();
        let free = model
            .generate(&["The album was"], &GenParams { max_new_tokens: 20, ..GenParams::default() })
            .unwrap()
            .remove(0);
        // Stop at the second character the free run wrote: the text must end right before it.
        let cut: String = free.text.chars().skip(1).take(1).collect();
        let stopped = model
            .generate(
                &["The album was"],
                &GenParams { max_new_tokens: 20, stop: vec![cut.clone()], ..GenParams::default() },
            )
            .unwrap()
            .remove(0);
        assert_eq!(stopped.finish, Finish::Stop);
        assert!(
            !stopped.text.contains(&cut) && free.text.starts_with(&stopped.text),
            "{:?} then {:?}",
            free.text,
            stopped.text
        );
    }
}

#[test]
fn ngram_generation_follows_the_back_off_distribution() {
    use lmgauge::models::generate::{Finish, GenParams, Strategy};
    use lmgauge::models::ngram::NgramModel;
    use lmgauge::models::{Capability, Generator, LanguageModel, TokenScorer};
    let dir = workspace(&[]);
    let arpa = wiki3_arpa(dir.path());
    let model = NgramModel::from_arpa(&arpa).unwrap();
    // The verbs a loaded n-gram model hands out are the ones its kind declares before loading.
    let loaded: &dyn LanguageModel = &model;
    assert_eq!(loaded.capabilities(), NgramModel::CAPABILITIES);
    assert_eq!(NgramModel::CAPABILITIES, &[Capability::ScoreTokens, Capability::Generate]);
    let greedy =
        model.generate(&["the album was"], &GenParams { max_new_tokens: 8, ..GenParams::default() }).unwrap().remove(0);
    assert!(!greedy.text.is_empty() && greedy.text.starts_with(' '));
    // Each greedy word is the most likely continuation: its probability, scored as text, is the
    // highest of the distribution the generator saw.
    let lm = model.query();
    let mut ctx = lm.begin();
    for w in ["the", "album", "was"] {
        lm.feed(&mut ctx, w);
    }
    let dist = lm.next_logprobs(&ctx);
    let best = dist.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let first = greedy.text.split_whitespace().next().unwrap();
    let scored = model.score_tokens(&format!("the album was {first}")).unwrap();
    assert!((scored.logprobs[3] as f32 - best).abs() < 1e-4, "{} vs {best}", scored.logprobs[3]);
    // A proper distribution: everything but <unk> sums to at most 1, and most of it is there.
    let mass: f64 = dist.iter().map(|&l| (l as f64).exp()).sum();
    assert!(mass <= 1.0 + 1e-4 && mass > 0.8, "{mass}");
    // Sampling: reproducible per seed, and it ends at </s> or the length limit.
    let p = GenParams { max_new_tokens: 30, strategy: Strategy::Sample, seed: 3, ..GenParams::default() };
    let a = model.generate(&["the", "in 2006 ,"], &p).unwrap();
    assert_eq!(a, model.generate(&["the", "in 2006 ,"], &p).unwrap());
    assert!(a.iter().all(|g| g.finish == Finish::EndOfText || g.tokens == 30));
}

/// The 3-gram WikiText-2 fixture, unpacked into `dir`.
fn wiki3_arpa(dir: &std::path::Path) -> std::path::PathBuf {
    let arpa = dir.join("wiki-3.arpa");
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(fixture("kenlm/wiki-3.arpa.gz")).unwrap());
    std::io::copy(&mut gz, &mut std::fs::File::create(&arpa).unwrap()).unwrap();
    arpa
}

fn suite(models: &str, extra: &str) -> String {
    format!(
        "version: 1\nname: gen\nseed: 5\nbootstrap: 50\nmodels:\n{models}tasks:\n  - id: cont\n    type: generation\n    dataset: {{path: items.jsonl, limit: 6}}\n    models: [{}]\n    metrics: [bleu, chrf, rougeL]\n    max_new_tokens: 12\n    min_new_tokens: 1\n    stop: [\".\"]\n{extra}",
        models
            .lines()
            .filter_map(|l| l.split("id: ").nth(1))
            .map(|s| s.split(',').next().unwrap())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn items() -> String {
    let mut s = String::new();
    for line in std::fs::read_to_string(repo().join("data/wikitext-2/continuation-test.jsonl")).unwrap().lines().take(5)
    {
        s.push_str(line);
        s.push('\n');
    }
    // Markup in a prompt and a reference must come out escaped.
    s.push_str("{\"prompt\": \"<script>alert(1)</script> The album was\", \"reference\": [\"<b>bold</b> reference\", \"another one\"]}\n");
    s
}

#[test]
fn generation_task_scores_outputs_keeps_them_and_escapes_them() {
    let train = repo().join("data/wikitext-2/valid.txt");
    let mut models =
        format!("  - {{id: kn3, kind: ngram, train: {}, order: 3, skip_symbols: true}}\n", train.display());
    if lmgauge::models::neural::ENABLED {
        models.push_str(&format!(
            "  - {{id: gpt2, kind: causal, path: {}, device: cpu}}\n",
            fixture("neural/gpt2-safetensors").display()
        ));
    }
    let ws = workspace(&[("suite.yaml", &suite(&models, "")), ("items.jsonl", &items())]);
    let o = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = ws.path().join("out/gen/latest");
    let csv = std::fs::read_to_string(run.join("results.csv")).unwrap();
    for m in ["bleu", "chrf", "rougeL"] {
        assert!(csv.contains(&format!("cont,kn3,{m},")), "{csv}");
    }
    let gens: Value = serde_json::from_slice(&std::fs::read(run.join("generations.json")).unwrap()).unwrap();
    let rows = gens.as_array().unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[5]["references"].as_array().unwrap().len(), 2, "several references kept");
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(
        !html.contains("<script>alert") && html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "prompts escaped"
    );
    assert!(html.contains("&#60;b&#62;bold&#60;/b&#62;") && html.contains("What the models wrote"));
    let kn3_out = rows[0]["outputs"][0][1].as_str().unwrap();
    assert!(!kn3_out.is_empty() && !kn3_out.contains('.'), "stops before the period: {kn3_out:?}");
    // The job record keeps the outputs: a resumed run reuses them, same seed same bytes.
    let record = std::fs::read_to_string(run.join("jobs/cont__kn3.json")).unwrap_or_else(|_| {
        let dir = run.join("jobs");
        let f = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains("kn3"))
            .unwrap();
        std::fs::read_to_string(f).unwrap()
    });
    assert!(record.contains("\"output\""), "{record}");
    let o = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out", "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(csv, std::fs::read_to_string(run.join("results.csv")).unwrap());
    let o = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "again"]);
    assert!(o.status.success());
    assert_eq!(csv, std::fs::read_to_string(ws.path().join("again/gen/latest/results.csv")).unwrap(), "deterministic");
    if lmgauge::models::neural::ENABLED {
        let pairwise = std::fs::read_to_string(run.join("pairwise.csv")).unwrap();
        assert!(pairwise.contains("cont,bleu,kn3,gpt2") || pairwise.contains("cont,bleu,gpt2,kn3"), "{pairwise}");
    }
    // Sampling with a template prompt runs too.
    let extra =
        "    strategy: sample\n    temperature: 0.8\n    top_p: 0.9\n    prompt_template: \"Continue: {prompt}\"\n";
    let ws2 = workspace(&[
        (
            "suite.yaml",
            &suite(
                &format!("  - {{id: kn3, kind: ngram, train: {}, order: 3, skip_symbols: true}}\n", train.display()),
                extra,
            ),
        ),
        ("items.jsonl", &items()),
    ]);
    let o = lmgauge(ws2.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let gens: Value =
        serde_json::from_slice(&std::fs::read(ws2.path().join("out/gen/latest/generations.json")).unwrap()).unwrap();
    assert!(gens[0]["prompt"].as_str().unwrap().starts_with("Continue: Robert"));
}

#[test]
fn generation_tasks_are_validated() {
    let train = repo().join("data/wikitext-2/valid.txt");
    let kn = format!("  - {{id: kn3, kind: ngram, train: {}, order: 3, skip_symbols: true}}\n", train.display());
    let bad = "    temperature: 0.5\n    prompt_field: p\n    prompt_template: \"{p}\"\n";
    let ws = workspace(&[("suite.yaml", &suite(&kn, bad)), ("items.jsonl", &items())]);
    let o = lmgauge(ws.path(), &["validate", "suite.yaml"]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("`temperature` applies only with `strategy: sample`") && err.contains("not both"), "{err}");
    let text = suite(&kn, "").replace("items.jsonl", "items.txt");
    let ws = workspace(&[("suite.yaml", &text), ("items.txt", "a\n")]);
    let err = stderr(&lmgauge(ws.path(), &["validate", "suite.yaml"]));
    assert!(err.contains("use JSONL, CSV or Parquet"), "{err}");
    if lmgauge::models::neural::ENABLED {
        let masked =
            format!("  - {{id: bert, kind: masked, path: {}}}\n", fixture("neural/bert-safetensors").display());
        let ws = workspace(&[("suite.yaml", &suite(&masked, "")), ("items.jsonl", &items())]);
        let err = stderr(&lmgauge(ws.path(), &["validate", "suite.yaml"]));
        assert!(err.contains("needs generation") && err.contains("kind masked"), "{err}");
    }
    // A record without the reference field: an error naming the file and line.
    let ws = workspace(&[
        ("suite.yaml", &suite(&kn, "")),
        ("items.jsonl", "{\"prompt\": \"a\", \"reference\": \"b\"}\n{\"prompt\": \"c\"}\n"),
    ]);
    let o = lmgauge(ws.path(), &["run-suite", "suite.yaml", "--out", "out"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("items.jsonl") && stderr(&o).contains('2') && stderr(&o).contains("reference"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn generate_command_continues_prompts() {
    let dir = workspace(&[]);
    wiki3_arpa(dir.path());
    let o = lmgauge(
        dir.path(),
        &["generate", "--model", "wiki-3.arpa", "--prompt", "the album was", "--max-new-tokens", "5", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let g = &v["generations"][0];
    assert!(g["tokens"].as_u64().unwrap() <= 5 && g["finish"].is_string() && g["text"].is_string(), "{v}");
    let o = lmgauge(dir.path(), &["generate", "--model", "wiki-3.arpa", "--prompt", "x", "--temperature", "0.5"]);
    assert!(!o.status.success() && stderr(&o).contains("--strategy sample"));
    if lmgauge::models::neural::ENABLED {
        std::fs::write(dir.path().join("prompts.txt"), "The album was\nIn 2006\n").unwrap();
        let model = fixture("neural/llama-gqa-tied");
        let o = lmgauge(
            dir.path(),
            &[
                "generate",
                "--model",
                model.to_str().unwrap(),
                "--input",
                "prompts.txt",
                "--device",
                "cpu",
                "--max-new-tokens",
                "6",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o).lines().count(), 2, "one line per prompt");
        let masked = fixture("neural/bert-safetensors");
        let o = lmgauge(dir.path(), &["generate", "--model", masked.to_str().unwrap(), "--prompt", "a"]);
        assert!(!o.status.success() && stderr(&o).contains("does not generate"), "{}", stderr(&o));
    }
}

/// A generation job generates in calls of 16 prompts so its progress moves; each prompt's random
/// stream follows its position in the job, so the sampled texts are those of one call over all
/// the prompts (`lmgauge generate -i`, with the same seed).
#[test]
fn sampled_generation_does_not_depend_on_how_the_job_splits_its_prompts() {
    let dir = workspace(&[]);
    wiki3_arpa(dir.path());
    let lines: Vec<String> = std::fs::read_to_string(repo().join("data/wikitext-2/continuation-test.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["prompt"].as_str().unwrap().to_owned())
        .collect();
    assert!(lines.len() > 32, "more than two calls' worth of prompts");
    std::fs::copy(repo().join("data/wikitext-2/continuation-test.jsonl"), dir.path().join("items.jsonl")).unwrap();
    std::fs::write(dir.path().join("prompts.txt"), lines.join("\n") + "\n").unwrap();
    let s = suite("  - {id: kn3, kind: ngram, arpa: wiki-3.arpa}\n", "    strategy: sample\n    seed: 11\n")
        .replace("limit: 6", "limit: 1000");
    std::fs::write(dir.path().join("suite.yaml"), s).unwrap();
    let o = lmgauge(dir.path(), &["-q", "run-suite", "suite.yaml", "--out-dir", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let job: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/gen/latest/jobs/cont__kn3.json")).unwrap()).unwrap();
    let from_job: Vec<&str> = job["items"].as_array().unwrap().iter().map(|i| i["output"].as_str().unwrap()).collect();
    let o = lmgauge(
        dir.path(),
        &[
            "generate",
            "-m",
            "wiki-3.arpa",
            "-i",
            "prompts.txt",
            "--strategy",
            "sample",
            "--seed",
            "11",
            "--max-new-tokens",
            "12",
            "--min-new-tokens",
            "1",
            "--stop",
            ".",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let one_call: Vec<&str> =
        v["generations"].as_array().unwrap().iter().map(|g| g["text"].as_str().unwrap().trim()).collect();
    assert_eq!(from_job.len(), lines.len());
    assert_eq!(from_job, one_call);
}
