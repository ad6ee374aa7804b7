//! `hw-sim` command line: start a bank of simulated modems.
fn main() -> anyhow::Result<()> {
    Ok(())
}
