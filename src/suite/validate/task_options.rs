//! The options of reference tasks (BLEU tokenizer and smoothing, ROUGE stemming, significance
//! test) and of generation tasks (where prompts come from, decoding parameters), checked as part
//! of a suite's validation.

use super::Validator;
use crate::suite::spec::GenerationTaskSpec;
use crate::suite::{self as suite, ReferenceOptions, Significance};

impl Validator<'_> {
    pub(super) fn generation_options(&mut self, at: &str, t: &GenerationTaskSpec) -> Option<suite::GenerationOptions> {
        use crate::models::generate::{GenParams, Strategy};
        let prompt = match (&t.prompt_field, &t.prompt_template) {
            (Some(_), Some(template)) => {
                self.problem(
                    &format!("{at}.prompt_template"),
                    format!("task {:?}: give `prompt_field` or `prompt_template`, not both", t.id),
                );
                suite::PromptSource::Template(template.clone())
            }
            (None, Some(template)) => {
                if suite::template_fields(template).is_empty() {
                    self.problem(
                        &format!("{at}.prompt_template"),
                        format!("task {:?}: the template has no {{field}} placeholder", t.id),
                    );
                }
                suite::PromptSource::Template(template.clone())
            }
            (field, None) => suite::PromptSource::Field(field.clone().unwrap_or_else(|| "prompt".into())),
        };
        let defaults = GenParams::default();
        let strategy = match t.strategy.as_deref().map(str::parse::<Strategy>) {
            None => defaults.strategy,
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                self.problem(&format!("{at}.strategy"), e);
                defaults.strategy
            }
        };
        let sampling_keys =
            [("temperature", t.temperature.is_some()), ("top_k", t.top_k.is_some()), ("top_p", t.top_p.is_some())];
        if strategy == Strategy::Greedy {
            for (key, set) in sampling_keys {
                if set {
                    self.problem(
                        &format!("{at}.{key}"),
                        format!("task {:?}: `{key}` applies only with `strategy: sample`", t.id),
                    );
                }
            }
        }
        let params = GenParams {
            max_new_tokens: t.max_new_tokens.unwrap_or(defaults.max_new_tokens),
            min_new_tokens: t.min_new_tokens.unwrap_or(defaults.min_new_tokens),
            strategy,
            temperature: t.temperature.unwrap_or(defaults.temperature),
            top_k: t.top_k.unwrap_or(defaults.top_k),
            top_p: t.top_p.unwrap_or(defaults.top_p),
            stop: t.stop.clone(),
            seed: t.seed.unwrap_or(self.seed),
            kv_cache: true,
        };
        if let Err(e) = params.check() {
            self.problem(at, format!("task {:?}: {e}", t.id));
        }
        Some(suite::GenerationOptions {
            prompt,
            reference_field: t.reference_field.clone().unwrap_or_else(|| "reference".into()),
            params,
        })
    }

    pub(super) fn reference_options(
        &mut self,
        at: &str,
        tokenize: &Option<String>,
        smooth: &Option<String>,
        lowercase: bool,
        stem: Option<bool>,
        significance: &Option<String>,
    ) -> ReferenceOptions {
        use crate::metrics::bleu::{BleuConfig, Smooth, Tokenizer};
        let mut bleu = BleuConfig { lowercase, ..BleuConfig::default() };
        if let Some(tok) = tokenize {
            match Tokenizer::from_name(tok) {
                Some(x) => bleu.tokenizer = x,
                None => self.problem(
                    &format!("{at}.tokenize"),
                    format!("unknown BLEU tokenizer {tok:?} (13a, intl, char, none, zh)"),
                ),
            }
        }
        if let Some(sm) = smooth {
            match Smooth::from_name(sm) {
                Some(x) => bleu.smooth = x,
                None => self.problem(
                    &format!("{at}.smooth"),
                    format!("unknown BLEU smoothing {sm:?} (exp, floor, add-k, none)"),
                ),
            }
        }
        let significance = match significance.as_deref() {
            None | Some("paired-bs") => Significance::PairedBootstrap,
            Some("paired-ar") => Significance::PairedRandomization,
            Some("none") => Significance::None,
            Some(other) => {
                self.problem(
                    &format!("{at}.significance"),
                    format!("unknown significance test {other:?} (paired-bs, paired-ar, none)"),
                );
                Significance::None
            }
        };
        ReferenceOptions { bleu, lowercase, stem: stem.unwrap_or(true), significance }
    }
}
