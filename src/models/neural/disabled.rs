//! Builds without the `torch` feature: neural kinds parse and validate, and loading one says that
//! this build cannot run it (see `load_registered` in the parent module).

pub fn cuda_device_count() -> usize {
    0
}

pub fn torch_runtime() -> super::TorchRuntime {
    super::TorchRuntime::default()
}
