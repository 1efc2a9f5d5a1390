//! The terminal console (in progress).
