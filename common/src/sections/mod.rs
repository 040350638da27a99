//! The typed output sections the layers write, read by the layers after them.
//! One file per layer; field by field in `docs/document.md`. Adding a field is not
//! a breaking change.

mod alb;
mod cluster;
mod ecr;
mod network;
mod scaling;
mod secrets;
mod services;

/// Every output section a layer writes, in the order the pipeline writes them.
pub const LAYERS: &[&str] = &[
    "network",
    "ecr",
    "secrets",
    "cluster",
    "alb",
    "services",
    "discovery",
    "scaling",
];

pub use alb::*;
pub use cluster::*;
pub use ecr::*;
pub use network::*;
pub use scaling::*;
pub use secrets::*;
pub use services::*;
