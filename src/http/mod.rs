//! The HTTP surfaces of the gateway.

pub mod soap;
