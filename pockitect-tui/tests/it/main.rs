//! Integration tests of the console: screens (insta snapshots on ratatui's TestBackend), the
//! load the issue asks for, and the bus task against a real redis-server.

mod bus;
mod fixtures;
mod load;
mod snapshots;
