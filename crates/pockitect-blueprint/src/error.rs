use std::path::PathBuf;

/// Everything that can go wrong while reading, parsing or writing a blueprint.
///
/// Messages are lowercase fragments that read after "failed to …"; the underlying cause is kept
/// as the error's `source()`, so print the whole chain (`{:#}` with anyhow) to show it.
/// Validation problems are not errors: they come back as a [`crate::Report`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("read blueprint '{}'", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The text is not valid JSON, or a field has the wrong JSON type; `line` and `column` point
    /// at the problem (1-based).
    #[error("parse blueprint '{origin}' at line {line}, column {column}: fix the JSON there")]
    Parse {
        origin: String,
        line: usize,
        column: usize,
        #[source]
        source: serde_json::Error,
    },

    /// A field has the wrong JSON type: its path in the document says which, the message what
    /// was expected and what was found.
    #[error("read blueprint '{origin}': {path}: {message} (line {line}, column {column})")]
    Field {
        origin: String,
        /// JSON path of the field (`network.rules[0].port`).
        path: String,
        message: String,
        /// Where the value is in the text (1-based; 0 when it came without text).
        line: usize,
        column: usize,
    },

    /// The JSON is well formed but does not have the shape of a blueprint, and no position is
    /// known (for example a value built in memory).
    #[error("read blueprint '{origin}': {message}")]
    Shape {
        origin: String,
        message: String,
        #[source]
        source: Option<serde_json::Error>,
    },

    /// A blueprint could not be turned into JSON text.
    #[error("serialize blueprint '{slug}'")]
    Serialize {
        slug: String,
        #[source]
        source: serde_json::Error,
    },

    /// A slug that cannot name a project file (it would escape the store or is not a slug).
    #[error("use '{slug}' as a project slug: {reason}")]
    InvalidSlug { slug: String, reason: String },

    /// No file for this slug in the store.
    #[error(
        "find project '{slug}': no file '{}'; list the projects with 'pockitect projects'",
        path.display()
    )]
    NotFound { slug: String, path: PathBuf },

    /// Refused to write a blueprint that carries a secret.
    #[error("save blueprint '{slug}': {field} holds a secret; {hint}")]
    SecretInBlueprint {
        slug: String,
        field: &'static str,
        hint: &'static str,
    },

    /// The project directory could not be listed.
    #[error("list projects in '{}'", dir.display())]
    List {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Writing the file (temp file, fsync, rename, directory fsync) failed. The previous version
    /// of the file, if any, is intact.
    #[error("write blueprint '{}' ({step})", path.display())]
    Write {
        path: PathBuf,
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
