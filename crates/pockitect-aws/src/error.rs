use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// An AWS call that failed, with AWS's own code and message kept for the user.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("call {operation} in '{region}': {code}: {message}")]
    Api {
        operation: &'static str,
        region: String,
        /// AWS's error code (`AccessDenied`, `OptInRequired`, …); for failures that are not
        /// AWS's answer, one of ours: `network`, `timeout`, `response`, `request`, or
        /// `http-<status>` when the endpoint answered an error without a code.
        code: String,
        message: String,
    },
    #[error("load AWS configuration: {0}")]
    Config(String),
}

impl AwsError {
    /// Converts any SDK error, keeping AWS's code and message (or what went wrong on the way).
    /// Every SDK error of this crate becomes words here and nowhere else.
    pub fn from_sdk<E>(
        operation: &'static str,
        region: &str,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (code, message) = describe_sdk(&err);
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

/// The code and message of an SDK failure. A service error carries AWS's own code and message
/// (the SDK's `Display` of one it has no variant for is only "unhandled error", which tells the
/// user nothing); every other failure is described with its whole source chain.
fn describe_sdk<E>(err: &SdkError<E, HttpResponse>) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // Credentials that cannot be had (an ended `pockitect login` session, a profile without
    // keys) are no network or request problem: their own words say what to do.
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
        {
            return ("credentials".to_owned(), error_chain(c));
        }
        cur = e.source();
    }
    match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let raw = se.raw();
            let status = raw.status().as_u16();
            let message = e.message().filter(|m| !m.trim().is_empty());
            match (e.code(), message) {
                (Some(code), Some(message)) => (code.to_owned(), message.to_owned()),
                (Some(code), None) => (
                    code.to_owned(),
                    format!("AWS answered HTTP {status} with no message"),
                ),
                // An XML error document of another shape than the protocol's (moto answers
                // STS authentication failures in IAM's): its own code and message.
                (None, _) if let Some((code, message)) = xml_code(raw.body().bytes()) => {
                    (code, message)
                }
                // Not an AWS error document (an emulator's or a proxy's error page, say): the
                // status and the start of the body are all there is to go on.
                (None, _) => (
                    format!("http-{status}"),
                    format!(
                        "the endpoint answered HTTP {status} without an AWS error code{}; check that the region exists and AWS_ENDPOINT_URL points at AWS",
                        body_excerpt(raw.body().bytes())
                            .map(|b| format!(" ('{b}')"))
                            .unwrap_or_default()
                    ),
                ),
            }
        }
        SdkError::TimeoutError(_) => (
            "timeout".to_owned(),
            format!(
                "{}; AWS did not answer in time: try again, or check the network",
                error_chain(err)
            ),
        ),
        SdkError::DispatchFailure(_) => (
            "network".to_owned(),
            format!(
                "could not reach the AWS endpoint ({}); check the network or AWS_ENDPOINT_URL",
                error_chain(err)
            ),
        ),
        SdkError::ResponseError(r) => (
            "response".to_owned(),
            format!(
                "could not read AWS's answer (HTTP {}): {}",
                r.raw().status().as_u16(),
                error_chain(err)
            ),
        ),
        SdkError::ConstructionFailure(_) => (
            "request".to_owned(),
            format!("could not build the request: {}", error_chain(err)),
        ),
        // `SdkError` is non-exhaustive: a kind added later still reads as its chain.
        _ => ("unknown".to_owned(), error_chain(err)),
    }
}

/// `<Code>` and `<Message>` of an XML error body, when it has a code.
fn xml_code(body: Option<&[u8]>) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(body?);
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = start + text[start..].find(&format!("</{name}>"))?;
        let v = text[start..end].trim();
        (!v.is_empty() && v.len() <= 512).then(|| v.to_owned())
    };
    let code = tag("Code")?;
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    {
        return None;
    }
    Some((code, tag("Message").unwrap_or_default()))
}

/// At most this many characters of an error body go into a message.
const BODY_EXCERPT: usize = 160;

/// The readable start of an error body: tags dropped, whitespace collapsed, cut short.
fn body_excerpt(body: Option<&[u8]>) -> Option<String> {
    let text = String::from_utf8_lossy(body?);
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                plain.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut out = String::new();
    for w in words {
        if out.chars().count() + w.chars().count() + 1 > BODY_EXCERPT {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    (!out.is_empty()).then_some(out)
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let next = c.to_string();
        // Some layers repeat their source's words; say each once.
        if !s.ends_with(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xml_error_of_another_shape_still_gives_its_code() {
        let moto = b"<ErrorResponse><Errors><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></Errors></ErrorResponse>";
        assert_eq!(
            xml_code(Some(moto)),
            Some((
                "InvalidClientTokenId".to_owned(),
                "The security token included in the request is invalid.".to_owned()
            ))
        );
        assert_eq!(xml_code(Some(b"<html>500</html>")), None);
        assert_eq!(xml_code(Some(b"<Code>a b</Code>")), None);
    }

    #[test]
    fn body_excerpt_drops_tags_and_cuts_long_bodies() {
        let html = b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>";
        assert_eq!(
            body_excerpt(Some(html)).as_deref(),
            Some("500 Internal Server Error Internal Server Error")
        );
        assert_eq!(body_excerpt(Some(b"  ")), None);
        assert_eq!(body_excerpt(None), None);
        let long = "word ".repeat(100);
        let cut = body_excerpt(Some(long.as_bytes())).unwrap();
        assert!(
            cut.ends_with('…') && cut.chars().count() <= BODY_EXCERPT + 1,
            "{cut}"
        );
    }
}
