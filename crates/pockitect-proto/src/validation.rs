//! A blueprint's validation report: every problem with its JSON path, errors (which stop a
//! deploy) apart from warnings. `pockitect_blueprint::validate` produces it; it travels in
//! `plan` events and project summaries.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One problem, at a JSON path: `network.rules[2].port: 70000 is not a port (0-65535)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Problems that stop a deploy.
    pub errors: Vec<Issue>,
    /// Risks and oddities worth reading; they do not stop a deploy.
    pub warnings: Vec<Issue>,
}

impl Report {
    /// True when there is no error (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors at exactly `path`.
    pub fn errors_at<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Issue> + 'a {
        self.errors.iter().filter(move |i| i.path == path)
    }

    /// The warnings at exactly `path`.
    pub fn warnings_at<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Issue> + 'a {
        self.warnings.iter().filter(move |i| i.path == path)
    }
}

impl fmt::Display for Report {
    /// One line per issue, errors first: `error: <path>: <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errors.is_empty() && self.warnings.is_empty() {
            return f.write_str("no problems");
        }
        let mut first = true;
        for (label, issues) in [("error", &self.errors), ("warning", &self.warnings)] {
            for issue in issues {
                if !first {
                    f.write_str("\n")?;
                }
                first = false;
                write!(f, "{label}: {issue}")?;
            }
        }
        Ok(())
    }
}
