//! The single integration-test binary: KenLM parity, suite validation, dataset readers, runs
//! (resume, determinism, failures, escaping, snapshots) and ARPA parser robustness.

mod arpa_robustness;
mod bertscore;
mod common;
mod gates;
mod gemma3;
mod generation;
mod gguf;
mod gguf_tokenizers;
mod gguf_twins;
mod hostile;
mod hostile_second;
mod human_agreement;
mod human_agreement_task;
mod kenlm_parity;
mod kl_divergence;
mod launcher;
mod layers;
mod metric_cli;
mod metric_parity;
mod minimal_pairs;
mod multiple_choice;
mod neural;
mod ngram_binary;
mod outputs;
mod preference;
mod quantized;
mod readers;
mod reference_task;
mod report_page;
mod runs;
mod setup_libtorch;
mod smollm2;
mod suite_validation;
mod text_robustness;
mod walkthrough;
