SUMMARY = "hw-sim: a bank of simulated GSM modems on pseudo-terminals"
DESCRIPTION = "Simulated modems of real families (Quectel, SIMCom, Huawei, ...) with faults and a \
control API, for commissioning and testing an appliance without SIM cards. Not part of the \
production image; the test image adds it."
SECTION = "devel"

require recipes-smsgate/smsgate/smsgate-source.inc
# Every crates.io dependency, pinned by Cargo.lock (scripts/gen-crates.py writes this file).
require recipes-smsgate/smsgate/smsgate-crates.inc

inherit cargo

# The workspace member that holds the hw-sim binary.
CARGO_SRC_DIR = "hw-sim"
