//! `smsgate config check` against the built binary: shipped files pass, bad ones fail naming the key.
#![allow(clippy::unwrap_used)] // test helper: any failure to run the binary should fail the test loudly

use std::process::Command;

fn check(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smsgate.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn config_check_names_the_problem() {
    let cases: &[(&str, bool, &str)] = &[
        (include_str!("../config/smsgate.toml"), true, "valid"),
        (
            include_str!("../config/appliance.toml"),
            true,
            "HTTPS on 0.0.0.0:443",
        ),
        ("version = 1\n[htp]\n", false, "unknown field `htp`"),
        ("version = 1\n[http]\nlisten = [\"nope\"]\n", false, "line 3"),
        (
            "version = 1\n[dispatch]\nmax_attempts = 0\n",
            false,
            "dispatch.max_attempts",
        ),
        ("version = 7\n", false, "version"),
    ];
    for (text, ok, needle) in cases {
        let (success, output) = check(text);
        assert_eq!(success, *ok, "{output}");
        assert!(output.contains(needle), "expected {needle:?} in {output}");
    }
}

#[test]
fn config_defaults_round_trip_through_check() {
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["config", "defaults"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (success, output) = check(&String::from_utf8_lossy(&out.stdout));
    assert!(success, "{output}");
}
