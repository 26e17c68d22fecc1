//! `lmgauge env`: what will run where — the build (version, git revision, libtorch flavour), the
//! CUDA devices libtorch sees (with each GPU's name and memory from `nvidia-smi` when it is
//! installed), CPU threads, libtorch's BLAS and threading, the quantized kernels this CPU gets, and
//! which of `make models`' real models are present. It loads no model, so it answers in a second
//! and is the first thing to run on a new machine or paste into a bug report.

use std::path::Path;

use clap::Args;
use serde_json::{Value, json};

use super::vocabulary::{JsonArg, print_json};
use crate::error::Error;
use crate::models::neural;

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub json: JsonArg,
}

/// The models `make models` fetches, relative to the repository root (the working directory).
const REAL_MODELS: &[(&str, &str)] = &[
    ("SmolLM2-135M (GGUF Q4_1)", "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    ("Gemma 3 270M (GGUF Q4_K_M)", "models/gemma3/gemma-3-270m-q4_k_m.gguf"),
    ("bert-tiny masked LM", "models/splade-tiny-bert"),
];

/// Each GPU's name and total memory as `nvidia-smi` reports them; empty without it.
fn gpus() -> Vec<Value> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"])
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (f.len() == 3).then(|| json!({"index": f[0], "name": f[1], "memory_mib": f[2].parse::<u64>().ok()}))
        })
        .collect()
}

fn environment() -> Value {
    let torch = neural::torch_runtime();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let models: Vec<Value> = REAL_MODELS
        .iter()
        .map(|(name, path)| json!({"name": name, "path": path, "present": Path::new(path).exists()}))
        .collect();
    let device = if torch.cuda_devices > 0 { "cuda:0" } else { "cpu" };
    json!({
        "lmgauge": env!("LMGAUGE_LONG_VERSION"),
        "neural_models": neural::ENABLED,
        "libtorch": torch,
        "gpus": gpus(),
        "device_auto": device,
        "cpu": {
            "arch": std::env::consts::ARCH,
            "threads": cpus,
            "rayon_threads": rayon::current_num_threads(),
            "quantized_kernels": neural::quantized::kernel_level(),
        },
        "models": models,
    })
}

pub fn run(args: EnvArgs) -> Result<i32, Error> {
    let env = environment();
    if args.json.json {
        print_json("env", env);
        return Ok(0);
    }
    let t = &env["libtorch"];
    println!("lmgauge      {}", env["lmgauge"].as_str().unwrap_or(""));
    if t["linked"] == true {
        let cudnn = t["cudnn"].as_i64().map_or("no cuDNN".to_owned(), |v| format!("cuDNN {v}"));
        println!(
            "libtorch     CUDA devices: {}, {cudnn}, MKL {}, OpenMP {}, {} threads",
            t["cuda_devices"],
            if t["mkl"] == true { "yes" } else { "no" },
            if t["openmp"] == true { "yes" } else { "no" },
            t["threads"]
        );
    } else if env["neural_models"] == true {
        println!("libtorch     not loaded by this binary (lmgauge-torch beside it links it)");
    } else {
        println!("libtorch     none: built without the torch feature (n-gram and quantized GGUF only)");
    }
    for g in env["gpus"].as_array().into_iter().flatten() {
        let memory = g["memory_mib"].as_u64().map_or("?".into(), |m| format!("{:.1} GiB", m as f64 / 1024.0));
        println!("gpu {}        {} ({memory})", g["index"].as_str().unwrap_or("?"), g["name"].as_str().unwrap_or("?"));
    }
    println!(
        "device auto  {} (what --device auto and a suite's default pick)",
        env["device_auto"].as_str().unwrap_or("")
    );
    let c = &env["cpu"];
    println!(
        "cpu          {}, {} threads (rayon {}), quantized kernels {}",
        c["arch"].as_str().unwrap_or(""),
        c["threads"],
        c["rayon_threads"],
        c["quantized_kernels"].as_str().unwrap_or("")
    );
    for m in env["models"].as_array().into_iter().flatten() {
        let state = if m["present"] == true { "present" } else { "missing (make models)" };
        let line =
            format!("model        {}: {} {state}", m["name"].as_str().unwrap_or(""), m["path"].as_str().unwrap_or(""));
        println!("{}", crate::store::format::terminal_safe(&line));
    }
    Ok(0)
}
