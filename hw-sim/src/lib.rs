//! hw-sim: a bank of simulated GSM modems on pseudo-terminals, speaking the AT dialects of real modem
//! families, with fault injection and a control API.
