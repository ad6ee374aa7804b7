//! SOAP SSL API (`/soap/v1`).

pub mod xml;
