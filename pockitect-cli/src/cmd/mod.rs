//! One module per subcommand, each with its `Args` and `run`.

pub mod catalog;
pub mod completions;
pub mod cost;
pub mod deploy;
pub mod doctor;
pub mod history;
pub mod login;
pub mod new;
pub mod operate;
pub mod projects;
pub mod resources;
pub mod scan;
pub mod secrets;
pub mod validate;
pub mod waste;
pub mod watch;
