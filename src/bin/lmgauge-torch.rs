//! `lmgauge-torch`: the `lmgauge` command line linked to libtorch, which runs the commands that
//! load a neural model. `lmgauge` hands those over to it; it runs any command itself when called
//! directly.

fn main() {
    lmgauge::models::neural::link_libtorch();
    lmgauge::cli::launch::main(|_| Ok(()))
}
