//! HTTP surfaces over TLS: the REST API under `/api/v1`, the Kannel-compatible `sendsms` shim, the API
//! documentation, the plain-HTTP redirect listener, and webhook delivery.
pub mod extract;
pub mod kannel;
pub mod problem;
pub mod webhooks;
