//! The configuration files shipped in `config/` parse and validate with the current schema: the reference
//! file with every key at its default, and the appliance's file installed as /etc/smsgate/smsgate.toml.
use smsgate::config::Settings;

#[test]
fn shipped_config_files_are_valid() {
    for (name, text) in [
        ("config/smsgate.toml", include_str!("../config/smsgate.toml")),
        ("config/appliance.toml", include_str!("../config/appliance.toml")),
    ] {
        if let Err(e) = Settings::from_toml(text) {
            panic!("{name}: {e}");
        }
    }
}
