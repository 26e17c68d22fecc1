//! `lmgauge`, the launcher: every command runs here except those that load a neural model, which
//! it hands to `lmgauge-torch` (see `cli::launch`); this binary is linked without libtorch and
//! starts in milliseconds. Exit codes: 0 success, 1 a gate failed, 2 an error.

fn main() {
    lmgauge::cli::launch::main(lmgauge::cli::launch::hand_over_if_neural)
}
