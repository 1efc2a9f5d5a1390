use aws_sdk_sts::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// An AWS call that failed, with AWS's own code and message kept for the user.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("call {operation} in '{region}': {code}: {message}")]
    Api {
        operation: &'static str,
        region: String,
        /// AWS's error code (`AccessDenied`, `OptInRequired`, …), or `network`/`timeout`.
        code: String,
        message: String,
    },
    #[error("load AWS configuration: {0}")]
    Config(String),
}

impl AwsError {
    /// Converts any SDK error, keeping AWS's code and message (or the transport failure).
    pub fn from_sdk<E, R>(operation: &'static str, region: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let (code, message) = match &err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                (
                    e.code().unwrap_or("Unknown").to_owned(),
                    e.message()
                        .map(str::to_owned)
                        .unwrap_or_else(|| e.to_string()),
                )
            }
            SdkError::TimeoutError(_) => ("timeout".to_owned(), "the request timed out".to_owned()),
            SdkError::DispatchFailure(d) => (
                "network".to_owned(),
                format!(
                    "could not reach the AWS endpoint ({d:?}); check the network or AWS_ENDPOINT_URL"
                ),
            ),
            other => ("unknown".to_owned(), error_chain(other)),
        };
        AwsError::Api {
            operation,
            region: region.to_owned(),
            code,
            message,
        }
    }

    /// AWS's error code, when the error came from AWS.
    pub fn code(&self) -> &str {
        match self {
            AwsError::Api { code, .. } => code,
            AwsError::Config(_) => "config",
        }
    }

    pub fn message(&self) -> String {
        match self {
            AwsError::Api { message, .. } => message.clone(),
            AwsError::Config(m) => m.clone(),
        }
    }

    /// True when the credentials lack permission or the region is not enabled.
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self.code(),
            "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedOperation"
                | "AuthFailure"
                | "InvalidClientTokenId"
                | "OptInRequired"
                | "ExpiredToken"
                | "SignatureDoesNotMatch"
        )
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
