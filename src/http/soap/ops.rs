//! Operation payloads.
