//! The wire contract, pinned: one example of every command and every event, as JSON snapshots.

mod wire;
