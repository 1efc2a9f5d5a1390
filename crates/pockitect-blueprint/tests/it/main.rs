//! Integration tests of pockitect-blueprint: legacy fixtures, broken blueprints, slugs, store.

mod broken;
mod canonical;
mod fixtures;
mod hostile;
mod secrets;
mod slugs;
mod store;
