//! End-to-end tests across binaries (real Redis + moto).
